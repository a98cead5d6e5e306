package symstore

import (
	"strings"
)

// Entry is one element of a symbol path.
type Entry struct {
	Dir    string   // a plain local directory (or symbol-store tree)
	Caches []string // downstream stores files from Server are copied into, nearest first
	Server string   // http(s) URL of a symbol server; "" for a local entry
}

// ParsePath parses a symbol path in _NT_SYMBOL_PATH syntax: entries
// separated by ';', each a plain directory, "srv*[cache*...]*URL" (also
// "symsrv*symsrv.dll*..."), or "cache*DIR", which adds DIR as the
// downstream store of the entries after it. defaultCache is used for a
// server entry that names no cache of its own.
func ParsePath(path, defaultCache string) []Entry {
	var out []Entry
	var cache []string
	for _, raw := range strings.Split(path, ";") {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		parts := strings.Split(e, "*")
		switch strings.ToLower(parts[0]) {
		case "cache":
			if len(parts) > 1 && parts[1] != "" {
				cache = append([]string{parts[1]}, cache...)
			} else if defaultCache != "" {
				cache = append([]string{defaultCache}, cache...)
			}
			if len(cache) > 0 {
				out = append(out, Entry{Dir: cache[0]})
			}
		case "srv", "symsrv":
			rest := parts[1:]
			if strings.ToLower(parts[0]) == "symsrv" && len(rest) > 0 {
				rest = rest[1:] // the DLL name
			}
			var server string
			var caches []string
			for _, p := range rest {
				if p == "" {
					continue
				}
				if strings.HasPrefix(strings.ToLower(p), "http://") || strings.HasPrefix(strings.ToLower(p), "https://") {
					server = strings.TrimRight(p, "/")
				} else {
					caches = append(caches, p)
				}
			}
			caches = append(caches, cache...)
			if len(caches) == 0 && defaultCache != "" {
				caches = []string{defaultCache}
			}
			for _, c := range caches {
				out = append(out, Entry{Dir: c}) // what is already cached is found locally first
			}
			if server != "" {
				out = append(out, Entry{Server: server, Caches: caches})
			}
		default:
			out = append(out, Entry{Dir: e})
		}
	}
	return out
}
