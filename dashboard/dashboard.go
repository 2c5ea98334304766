// Package dashboard is the operator dashboard's user interface: static
// HTML, CSS and vanilla JavaScript, embedded so the binary needs no CDN or
// build step. http/dashboard.go serves it under /dashboard/ and answers the
// JSON under /dashboard/api/ that its pages poll; this package holds no Go
// logic.
package dashboard

import "embed"

// Files holds index.html, style.css and app.js at its root.
//
//go:embed index.html style.css app.js
var Files embed.FS
