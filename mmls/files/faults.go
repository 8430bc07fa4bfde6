//go:build mmlsfaults

package files

import "os"

// Built with -tags mmlsfaults (the end-to-end test of a hostile holder
// does), a process whose environment has MMLS_TEST_CORRUPT_CHUNKS=1
// serves damaged chunks. The shipped binary has no such switch.
func init() { corruptAll = os.Getenv("MMLS_TEST_CORRUPT_CHUNKS") == "1" }
