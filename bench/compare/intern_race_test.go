//go:build race

package compare

// raceEnabled is true when the race detector is on: the hit-ratio test,
// which checks a policy rather than concurrency, is skipped then.
const raceEnabled = true
