package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// nativeClient uses chunkup's own API the way the README shows a program
// doing it: create, chunks in any order and several at once, each retried
// on a network error or a 503, then complete; an incomplete answer's
// missing ranges are sent again.
type nativeClient struct {
	f      *file
	mu     sync.Mutex
	id     string
	chunks int
	key    string
}

// nativeRetries bounds the attempts at one request.
const nativeRetries = 8

type nativeView struct {
	ID      string `json:"id"`
	Chunks  int    `json:"chunks"`
	State   string `json:"state"`
	Key     string `json:"key"`
	Missing []struct {
		First int `json:"first"`
		Last  int `json:"last"`
	} `json:"missing"`
	Error struct {
		Code    string `json:"code"`
		Missing []struct {
			First int `json:"first"`
			Last  int `json:"last"`
		} `json:"missing"`
	} `json:"error"`
}

func (n *nativeClient) where() (string, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.key, n.id
}

func (n *nativeClient) send(ctx context.Context, c *caller) error {
	if key, _ := n.where(); key != "" {
		return nil
	}
	f := n.f
	if n.id == "" {
		body, _ := json.Marshal(map[string]any{"name": f.name, "size": len(f.data), "type": "application/octet-stream", "chunkSize": f.chunk})
		r, err := c.persist(ctx, n.f.rng, request{method: "POST", path: "/v1/uploads", header: map[string]string{"Content-Type": "application/json"}, body: body}, nativeRetries)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		var v nativeView
		if r.status != http.StatusCreated || !r.decode(&v) || v.ID == "" {
			return fmt.Errorf("create: %s", r)
		}
		n.mu.Lock()
		n.id, n.chunks = v.ID, v.Chunks
		n.mu.Unlock()
	}
	order, err := n.missing(ctx, c)
	if err != nil {
		return err
	}
	for round := 0; ; round++ {
		if err := n.sendChunks(ctx, c, order); err != nil {
			return err
		}
		r, err := c.persist(ctx, n.f.rng, request{method: "POST", path: "/v1/uploads/" + n.id + "/complete"}, nativeRetries)
		if err != nil {
			return fmt.Errorf("complete: %w", err)
		}
		var v nativeView
		r.decode(&v)
		switch {
		case r.status == http.StatusOK && v.State == "complete" && v.Key != "":
			n.mu.Lock()
			n.key = v.Key
			n.mu.Unlock()
			return nil
		case r.status == http.StatusConflict && v.Error.Code == "upload_incomplete" && round < 5:
			order = order[:0]
			for _, m := range v.Error.Missing {
				for i := m.First; i <= m.Last; i++ {
					order = append(order, i)
				}
			}
		default:
			return fmt.Errorf("complete: %s", r)
		}
	}
}

// missing lists the chunks to send: all of them, shuffled, the first time;
// what the status call says is missing when resuming.
func (n *nativeClient) missing(ctx context.Context, c *caller) ([]int, error) {
	r, err := c.persist(ctx, n.f.rng, request{method: "GET", path: "/v1/uploads/" + n.id}, nativeRetries)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	var v nativeView
	if r.status != http.StatusOK || !r.decode(&v) {
		return nil, fmt.Errorf("status: %s", r)
	}
	var out []int
	for _, m := range v.Missing {
		for i := m.First; i <= m.Last; i++ {
			out = append(out, i)
		}
	}
	perm := n.f.rng.Perm(len(out))
	shuffled := make([]int, len(out))
	for i, p := range perm {
		shuffled[i] = out[p]
	}
	return shuffled, nil
}

func (n *nativeClient) sendChunks(ctx context.Context, c *caller, order []int) error {
	f := n.f
	var sent sync.Mutex
	done := 0
	return eachChunk(ctx, order, 4, func(ctx context.Context, i int) error {
		sent.Lock()
		quit := c.abandon && f.abandons(done, len(order))
		done++
		sent.Unlock()
		if quit {
			return errAbandoned
		}
		lo := i * f.chunk
		piece := f.data[lo:min(lo+f.chunk, len(f.data))]
		req := request{method: "PUT", path: "/v1/uploads/" + n.id + "/chunks/" + strconv.Itoa(i), body: piece}
		if c.duplicate(f.rng) {
			c.alongside(ctx, f.rng, req)
		}
		c.st.chunks.Add(1)
		r, err := c.persist(ctx, n.f.rng, req, nativeRetries)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("chunk %d: %s", i, r)
		}
		return nil
	})
}
