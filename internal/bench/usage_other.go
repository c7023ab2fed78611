//go:build !unix

package bench

import (
	"os"
	"time"
)

// peakRSS is unknown on this system.
func peakRSS(*os.ProcessState) int64 { return 0 }

// processCPU is unknown on this system.
func processCPU() time.Duration { return 0 }

// stopSignal asks a crmsync command to stop.
var stopSignal os.Signal = os.Interrupt
