package admission_test

import (
	"fmt"

	"github.com/flatheap/ingest/internal/admission"
)

// Example admits a key on its second sighting, and lets a frequent
// candidate take the slot of a colder key when the table is full.
func Example() {
	f, err := admission.New(admission.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	scan := f.Hash([]byte("/wp-admin/qzkfjxbw.php"))
	checkout := f.Hash([]byte("/api/v2/checkout/{id}"))
	fmt.Println("scan:", f.Record(scan))
	fmt.Println("checkout:", f.Record(checkout), f.Record(checkout), f.Record(checkout))

	// The table is full; its coldest key was admitted with 2 and has seen
	// nothing since.
	var coldest admission.Count
	coldest.Start(f, 2, 1)
	fmt.Println("checkout takes its slot:", f.Admit(f.Estimate(checkout), coldest.Value(f, 1)))
	fmt.Println("the scan does not:", f.Admit(f.Estimate(scan), coldest.Value(f, 1)))
	// Output:
	// scan: 1
	// checkout: 1 2 3
	// checkout takes its slot: true
	// the scan does not: false
}
