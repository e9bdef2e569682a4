package ratelimit

import "container/heap"

// DefaultMaxKeys is how many keys Memory and MemoryBackoffStore hold at
// most unless SetMaxKeys says otherwise: about 20 MB at the worst case of
// 64-byte keys, enough for every client of a busy instance.
const DefaultMaxKeys = 100_000

// expiring is a map whose entries carry an expiry time and which never
// holds more than max entries. A min-heap on the expiry time makes both
// dropping expired entries and choosing the entry to evict O(log n), with
// no background goroutine: every operation first sweeps what has expired.
// It is not safe for concurrent use; its owner holds a mutex.
type expiring[V any] struct {
	max   int
	items map[string]*entry[V]
	order entryHeap[V]
}

type entry[V any] struct {
	key     string
	val     V
	expires int64 // in the owner's time unit; the entry is gone at expires
	index   int   // position in the heap
}

func newExpiring[V any](max int) *expiring[V] {
	return &expiring[V]{max: max, items: make(map[string]*entry[V])}
}

// sweep drops every entry that has expired at now.
func (m *expiring[V]) sweep(now int64) {
	for len(m.order) > 0 && m.order[0].expires <= now {
		e := heap.Pop(&m.order).(*entry[V])
		delete(m.items, e.key)
	}
}

// get returns the live entry for key, or nil. Callers sweep first.
func (m *expiring[V]) get(key string) *entry[V] { return m.items[key] }

// add inserts a new key, evicting the entry closest to expiry when full.
func (m *expiring[V]) add(key string, val V, expires int64) {
	for len(m.items) >= m.max && len(m.order) > 0 {
		e := heap.Pop(&m.order).(*entry[V])
		delete(m.items, e.key)
	}
	e := &entry[V]{key: key, val: val, expires: expires}
	m.items[key] = e
	heap.Push(&m.order, e)
}

// update changes an existing entry's value and expiry.
func (m *expiring[V]) update(e *entry[V], val V, expires int64) {
	e.val = val
	if e.expires != expires {
		e.expires = expires
		heap.Fix(&m.order, e.index)
	}
}

func (m *expiring[V]) remove(key string) {
	if e, ok := m.items[key]; ok {
		heap.Remove(&m.order, e.index)
		delete(m.items, key)
	}
}

// setMax changes the bound and evicts down to it.
func (m *expiring[V]) setMax(n int) {
	if n < 1 {
		n = 1
	}
	m.max = n
	for len(m.items) > m.max {
		e := heap.Pop(&m.order).(*entry[V])
		delete(m.items, e.key)
	}
}

func (m *expiring[V]) len() int { return len(m.items) }

type entryHeap[V any] []*entry[V]

func (h entryHeap[V]) Len() int           { return len(h) }
func (h entryHeap[V]) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h entryHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *entryHeap[V]) Push(x any) {
	e := x.(*entry[V])
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *entryHeap[V]) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}
