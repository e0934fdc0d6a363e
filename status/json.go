package status

import (
	"encoding/json"
	"io"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// RenderJSON writes r as indented JSON that decodes back into the same
// admin.Report. It writes r as given: call WithDiagnosis first to include
// the diagnoses.
func RenderJSON(w io.Writer, r admin.Report) error {
	return writeIndented(w, r)
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
