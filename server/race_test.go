//go:build race

package server

// raceEnabled scales the load test down: the race detector makes
// analysis many times slower.
const raceEnabled = true
