package auth0client

import (
	"context"
	"fmt"

	"github.com/auth0/go-auth0/management"
)

// PageSize is how many streams one List call asks for, Auth0's most.
const PageSize = 100

// DefaultMaxPages bounds a listing: 100 pages of PageSize, 10,000 streams.
const DefaultMaxPages = 100

// Lister is the one call a Listing makes.
type Lister interface {
	// List GETs one page of /event-streams, starting at checkpoint from
	// ("" for the first page).
	List(ctx context.Context, from string) (*management.EventStreamList, error)
}

// Listing pages through the event streams of one tenant (GET
// /event-streams with checkpoint paging: from, take) up to MaxPages pages.
// It keeps nothing between calls: a caller that stops can resume at the
// Cursor it last got, and keeps of each page only what it needs, so what a
// listing costs in memory is one page.
type Listing struct {
	API Lister
	// MaxPages bounds the pages read from one start; DefaultMaxPages when
	// zero.
	MaxPages int
}

// Cursor is where a listing stands; the zero Cursor is the first page.
type Cursor struct {
	// From is the checkpoint of the next page ("" for the first).
	From string
	// Pages is how many pages were read before it.
	Pages int
}

// TooManyPagesError says a listing stopped at its bound.
type TooManyPagesError struct {
	MaxPages int
}

func (e *TooManyPagesError) Error() string {
	return fmt.Sprintf("the tenant holds more than %d pages of %d event streams, the most the provider lists", e.MaxPages, PageSize)
}

func (l Listing) maxPages() int {
	if l.MaxPages <= 0 {
		return DefaultMaxPages
	}
	return l.MaxPages
}

// Next reads the page at c and returns its streams and the cursor of the
// page after it; last is true when there is none. A page that hands back
// its own checkpoint, or none, is the last: a tenant cannot keep the
// listing going round in circles.
func (l Listing) Next(ctx context.Context, c Cursor) (streams []*management.EventStream, next Cursor, last bool, err error) {
	if c.Pages >= l.maxPages() {
		return nil, c, false, &TooManyPagesError{MaxPages: l.maxPages()}
	}
	page, err := l.API.List(ctx, c.From)
	if err != nil {
		return nil, c, false, err
	}
	last = page.Next == "" || page.Next == c.From || len(page.EventStreams) == 0
	return page.EventStreams, Cursor{From: page.Next, Pages: c.Pages + 1}, last, nil
}

// Walk reads every page from the first, calling visit for each stream.
func (l Listing) Walk(ctx context.Context, visit func(*management.EventStream)) error {
	var c Cursor
	for {
		streams, next, last, err := l.Next(ctx, c)
		if err != nil {
			return err
		}
		for _, s := range streams {
			visit(s)
		}
		if last {
			return nil
		}
		c = next
	}
}
