//go:build !race

package compare

// raceEnabled is true when the race detector is on; see intern_race_test.go.
const raceEnabled = false
