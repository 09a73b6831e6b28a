package loadgen

import (
	"strconv"
	"strings"
)

// RoutesLogFormat is the nginx log_format of the lines Config.Routes
// makes: "combined" followed by the virtual host, the request time and the
// upstream response time. Receivers compile it with ingest.CompileNginx.
//
// $upstream_response_time is quoted because nginx may log a list for a
// request passed to several upstreams ("0.002, 0.010 : 0.001"), and "-"
// when no upstream was involved.
const RoutesLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
	`"$http_referer" "$http_user_agent" $host $request_time "$upstream_response_time"`

// RouteTemplates are the API routes of Config.Routes traffic, in the
// syntax of route patterns: each {id} of a generated path is a decimal
// number of 1 to 9 digits, each {uuid} a random version 4 UUID in lower
// case, and each {hex} 24 lower-case hex digits that start with a letter
// and a digit. The static segments are words, "v1" or "v2", or file names
// such as "app.js", none of which looks like an identifier. Read-only.
var RouteTemplates = []string{
	"/",
	"/healthz",
	"/auth/login",
	"/auth/logout",
	"/auth/tokens/{uuid}",
	"/static/js/app.js",
	"/static/css/site.css",
	"/downloads/{uuid}",
	"/admin/users/{id}/audit",
	"/api/v1/health",
	"/api/v1/search",
	"/api/v1/users",
	"/api/v1/users/{id}",
	"/api/v1/users/{id}/avatar",
	"/api/v1/users/{id}/orders",
	"/api/v1/users/{id}/orders/{uuid}",
	"/api/v1/users/{id}/orders/{uuid}/items",
	"/api/v1/users/{id}/orders/{uuid}/items/{id}",
	"/api/v1/users/{id}/addresses",
	"/api/v1/users/{id}/addresses/{id}",
	"/api/v1/users/{id}/devices/{uuid}",
	"/api/v1/orders/{uuid}",
	"/api/v1/orders/{uuid}/status",
	"/api/v1/orders/{uuid}/invoice",
	"/api/v1/orders/{uuid}/refunds/{id}",
	"/api/v1/products",
	"/api/v1/products/{id}",
	"/api/v1/products/{id}/stock",
	"/api/v1/products/{id}/reviews",
	"/api/v1/products/{id}/reviews/{id}",
	"/api/v1/products/{id}/images/{hex}",
	"/api/v1/categories/{id}/products",
	"/api/v1/carts/{uuid}",
	"/api/v1/carts/{uuid}/items/{id}",
	"/api/v1/payments/{uuid}",
	"/api/v1/payments/{uuid}/capture",
	"/api/v1/shipments/{uuid}/tracking",
	"/api/v1/reports/{hex}",
	"/api/v2/users/{id}",
	"/api/v2/users/{id}/preferences",
	"/api/v2/users/{id}/orders/{uuid}",
	"/api/v2/orders/{uuid}/events/{id}",
	"/api/v2/products/{id}/variants/{id}",
	"/api/v2/teams/{id}/members/{id}",
	"/api/v2/teams/{id}/projects/{uuid}",
	"/api/v2/projects/{uuid}/tasks/{id}",
	"/api/v2/projects/{uuid}/tasks/{id}/comments",
	"/api/v2/projects/{uuid}/files/{hex}",
	"/api/v2/webhooks/{uuid}/deliveries/{id}",
	"/api/v2/notifications/{id}/read",
}

// RouteVhosts are the virtual hosts ($host) of Config.Routes traffic.
// Read-only.
var RouteVhosts = []string{"api.example.com", "www.example.com", "shop.example.com", "admin.example.com"}

// The placeholders of RouteTemplates and the bytes each becomes at most.
const (
	placeholderID   = "{id}"
	placeholderUUID = "{uuid}"
	placeholderHex  = "{hex}"
	maxIDLength     = 9
	uuidLength      = 36
	hexLength       = 24
)

// routePart is one piece of a compiled route template: a literal, or a
// placeholder to fill.
type routePart struct {
	lit  string
	fill byte // 0 for a literal; 'i' id, 'u' uuid, 'h' hex
}

// routeTemplates are RouteTemplates split into parts, once.
var routeTemplates = compileRouteTemplates(RouteTemplates)

// maxRoutePath is the longest path a route template makes.
var maxRoutePath = func() int {
	n := 0
	for _, t := range RouteTemplates {
		l := len(t) + strings.Count(t, placeholderID)*(maxIDLength-len(placeholderID)) +
			strings.Count(t, placeholderUUID)*(uuidLength-len(placeholderUUID)) +
			strings.Count(t, placeholderHex)*(hexLength-len(placeholderHex))
		n = max(n, l)
	}
	return n
}()

func compileRouteTemplates(ts []string) [][]routePart {
	out := make([][]routePart, len(ts))
	for i, t := range ts {
		var parts []routePart
		for t != "" {
			j := strings.IndexByte(t, '{')
			if j < 0 {
				parts = append(parts, routePart{lit: t})
				break
			}
			if j > 0 {
				parts = append(parts, routePart{lit: t[:j]})
			}
			switch {
			case strings.HasPrefix(t[j:], placeholderID):
				parts = append(parts, routePart{fill: 'i'})
				t = t[j+len(placeholderID):]
			case strings.HasPrefix(t[j:], placeholderUUID):
				parts = append(parts, routePart{fill: 'u'})
				t = t[j+len(placeholderUUID):]
			case strings.HasPrefix(t[j:], placeholderHex):
				parts = append(parts, routePart{fill: 'h'})
				t = t[j+len(placeholderHex):]
			default:
				panic("loadgen: bad route template " + ts[i])
			}
		}
		out[i] = parts
	}
	return out
}

// routesFixedMax bounds the bytes Config.Routes adds after the user agent:
// " $host $request_time "$upstream_response_time"".
var routesFixedMax = func() int {
	h := 0
	for _, v := range RouteVhosts {
		h = max(h, len(v))
	}
	return 1 + h + len(" 99.999") + len(` "`) + len("9.999, 9.999 : 9.999") + len(`"`)
}()

// appendRoutePath appends the path of template t, its placeholders filled
// from r.
func appendRoutePath(dst []byte, t []routePart, r uint64) []byte {
	for _, p := range t {
		switch p.fill {
		case 0:
			dst = append(dst, p.lit...)
		case 'i':
			r = splitmix(r)
			dst = strconv.AppendUint(dst, r%999_999_999+1, 10)
		case 'u':
			r = splitmix(r)
			hi := r
			r = splitmix(r)
			lo := r
			dst = appendHex(dst, hi>>32, 8)
			dst = append(dst, '-')
			dst = appendHex(dst, hi>>16, 4)
			dst = append(dst, '-', '4')
			dst = appendHex(dst, hi, 3)
			dst = append(dst, '-', "89ab"[lo>>62])
			dst = appendHex(dst, lo>>48, 3)
			dst = append(dst, '-')
			dst = appendHex(dst, lo, 12)
		case 'h':
			r = splitmix(r)
			dst = append(dst, "abcdef"[r%6], byte('0'+(r>>3)%10))
			dst = appendHex(dst, r>>8, 14)
			r = splitmix(r)
			dst = appendHex(dst, r, 8)
		}
	}
	return dst
}

// appendSeconds appends ms milliseconds as nginx logs times: seconds with
// three decimals.
func appendSeconds(dst []byte, ms uint64) []byte {
	dst = strconv.AppendUint(dst, ms/1000, 10)
	f := ms % 1000
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// requestMillis picks a request time in milliseconds from r: mostly
// between 1 and 1,280 ms, spread over powers of two, and about one request
// in 64 between 2 and 10 s.
func requestMillis(r uint64) uint64 {
	if r&63 == 0 {
		return 2000 + (r>>6)%8000
	}
	return (1 << ((r >> 6) & 7)) * (1 + (r>>9)%10)
}

// appendRouteTail appends " $host $request_time "$upstream_response_time""
// chosen by r: an upstream time for most requests, a list of attempts for
// about one in eight, "-" for about one in eight.
func appendRouteTail(dst []byte, r uint64) []byte {
	dst = append(dst, ' ')
	dst = append(dst, RouteVhosts[r%uint64(len(RouteVhosts))]...)
	ms := requestMillis(r >> 2)
	dst = append(dst, ' ')
	dst = appendSeconds(dst, ms)
	dst = append(dst, ' ', '"')
	up := ms - min(ms, 1+(r>>20)%4) // the upstream part of the request time
	switch (r >> 24) & 7 {
	case 0:
		dst = append(dst, '-')
	case 1:
		// Two attempts, then a third server: "a, b : c" adding up to up.
		a, b := up/4, up/2
		dst = appendSeconds(dst, a)
		dst = append(dst, ", "...)
		dst = appendSeconds(dst, b)
		dst = append(dst, " : "...)
		dst = appendSeconds(dst, up-a-b)
	default:
		dst = appendSeconds(dst, up)
	}
	return append(dst, '"')
}
