//go:build !race

package routemetrics

const raceEnabled = false
