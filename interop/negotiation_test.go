package interop

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wsmem/wsmem/interop/internal/wiretap"
)

// compressionView is what one side's own API says about permessage-deflate.
type compressionView struct {
	known bool   // the library tells
	on    bool   // agreed
	ext   string // the agreed extension, as the library shows it
}

// unknownCompression: the library has no API that tells (the wire tap does).
var unknownCompression = compressionView{}

func fromHeader(h http.Header) compressionView {
	v := h.Get("Sec-WebSocket-Extensions")
	return compressionView{known: true, on: strings.Contains(v, "permessage-deflate"), ext: v}
}

// checkDeflateResponse checks that a permessage-deflate response is one a
// server may give to the request's offers (RFC 7692 section 7): known
// parameters with valid values, server_no_context_takeover echoed when
// asked for, server_max_window_bits granted when asked for and not above
// it, client_max_window_bits only when offered and not above the offer.
func checkDeflateResponse(request, response string) error {
	var resp []map[string]string
	for _, e := range wiretap.Extensions(response) {
		if e[""] == "permessage-deflate" {
			resp = append(resp, e)
		} else {
			return fmt.Errorf("response names extension %q", e[""])
		}
	}
	if len(resp) != 1 {
		return fmt.Errorf("response %q has %d permessage-deflate elements, want 1", response, len(resp))
	}
	r := resp[0]
	for k, v := range r {
		switch k {
		case "":
		case "server_no_context_takeover", "client_no_context_takeover":
			if v != "" {
				return fmt.Errorf("response parameter %s has a value %q", k, v)
			}
		case "server_max_window_bits", "client_max_window_bits":
			if n, err := strconv.Atoi(v); err != nil || n < 8 || n > 15 {
				return fmt.Errorf("response parameter %s=%q is not 8..15", k, v)
			}
		default:
			return fmt.Errorf("response has unknown parameter %q", k)
		}
	}
	var why []string
	for _, o := range wiretap.Extensions(request) {
		if o[""] != "permessage-deflate" {
			continue
		}
		if err := matchesOffer(o, r); err != nil {
			why = append(why, err.Error())
			continue
		}
		return nil
	}
	return fmt.Errorf("response %q answers none of the offers in %q: %s", response, request, strings.Join(why, "; "))
}

func matchesOffer(o, r map[string]string) error {
	if _, ok := o["server_no_context_takeover"]; ok {
		if _, ok := r["server_no_context_takeover"]; !ok {
			return fmt.Errorf("server_no_context_takeover was asked for but not answered")
		}
	}
	if v, ok := o["server_max_window_bits"]; ok {
		rv, ok := r["server_max_window_bits"]
		if !ok {
			return fmt.Errorf("server_max_window_bits=%s was asked for but not answered", v)
		}
		if atoi(rv) > atoi(v) {
			return fmt.Errorf("server_max_window_bits=%s answered to an offer of %s", rv, v)
		}
	}
	if rv, ok := r["client_max_window_bits"]; ok {
		v, ok := o["client_max_window_bits"]
		if !ok {
			return fmt.Errorf("client_max_window_bits=%s answered but not offered", rv)
		}
		if v != "" && atoi(rv) > atoi(v) {
			return fmt.Errorf("client_max_window_bits=%s answered to an offer of %s", rv, v)
		}
	}
	return nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 99
	}
	return n
}
