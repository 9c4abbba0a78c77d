// Package httpapi is the HTTP side-server of the marketplace: public seller
// pricing, and for an authenticated agent its own pricing, balances and
// usage history.
//
// It is a protocol edge. It owns routing, HTTP Basic authentication against
// the same credentials as SMTP and IMAP, and the JSON shapes of requests,
// replies and errors. The rules and the money stay in marketplace and
// billing: nothing here moves money or decides a price.
//
// Every reply is JSON. Errors, including unknown routes (404) and wrong
// methods (405), are {"error":{"code":"...","message":"..."}}, with a
// "fields" list when the input was invalid.
//
// The handler sets no timeouts or header limits of its own; the http.Server
// that serves it should (ReadHeaderTimeout, MaxHeaderBytes).
package httpapi
