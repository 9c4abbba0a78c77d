package httpapi

import (
	"encoding/json"
	"net/http"
)

// errorBody is the JSON shape of every error reply.
type errorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Fields  []fieldProblem `json:"fields,omitempty"`
}

// fieldProblem names one offending input field and what is wrong with it.
type fieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// writeJSON sends v as the reply body. Encoding cannot fail for the types
// used here, and once the header is out a failure could not be reported.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: apiError{Code: code, Message: message}})
}

func writeFieldErrors(w http.ResponseWriter, code, message string, fields []fieldProblem) {
	writeJSON(w, http.StatusBadRequest,
		errorBody{Error: apiError{Code: code, Message: message, Fields: fields}})
}

// internalError logs err, which may name storage details, and tells the
// client only that the server failed.
func (a *api) internalError(w http.ResponseWriter, r *http.Request, agent string, err error) {
	a.log.Error("http request failed", "method", r.Method, "path", r.URL.Path,
		"agent", agent, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal server error")
}
