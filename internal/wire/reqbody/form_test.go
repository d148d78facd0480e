package reqbody

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// part is one part of a test form: a file if it has a file name.
type part struct {
	field, filename, contentType, value string
}

// formBody builds a multipart/form-data body of parts, and its
// Content-Type.
func formBody(t testing.TB, parts ...part) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf("form-data; name=%q", p.field)
		if p.filename != "" {
			cd += fmt.Sprintf("; filename=%q", p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func formRequest(target, contentType string, body []byte) *http.Request {
	r := httptest.NewRequest("POST", target, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

var roomy = FormLimits{Body: 1 << 20, File: 1 << 20, Fields: 1 << 10}

func TestReadForm(t *testing.T) {
	body, ct := formBody(t,
		part{field: "id", value: "u1"},
		part{field: "id", value: "u2"},
		part{field: "other", filename: "a.txt", value: "not this one"},
		part{field: "file", filename: "dir/b.bin", contentType: "application/x-thing", value: "the chunk"},
		part{field: "file", filename: "c.bin", value: "nor this one"},
		part{field: "", value: "nameless, skipped"},
		part{field: "n", value: "3"},
	)
	form, err := ReadForm(httptest.NewRecorder(), formRequest("/?id=q1&q=v", ct, body), "file", roomy)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"id": {"u1", "u2"}, "n": {"3"}}; !reflect.DeepEqual(form.Value, want) {
		t.Errorf("values %v, want %v", form.Value, want)
	}
	if want := map[string]int{"other": 1, "file": 2}; !maps.Equal(form.Files, want) || form.FileCount() != 3 {
		t.Errorf("files %v (%d), want %v", form.Files, form.FileCount(), want)
	}
	want := File{Field: "file", Name: "b.bin", ContentType: "application/x-thing", Size: 9, Data: []byte("the chunk")}
	if form.File == nil || !reflect.DeepEqual(*form.File, want) {
		t.Errorf("file %+v, want %+v", form.File, want)
	}
	for name, want := range map[string][2]string{"id": {"q1", "u1"}, "q": {"v", ""}, "n": {"3", "3"}, "none": {"", ""}} {
		if got := [2]string{form.FormValue(name), form.PostFormValue(name)}; got != want {
			t.Errorf("%s: FormValue, PostFormValue %q, want %q", name, got, want)
		}
	}
}

// TestReadFormKeeps: which file part is kept.
func TestReadFormKeeps(t *testing.T) {
	a := part{field: "other", filename: "a", value: "aaaa"}
	b := part{field: "file", filename: "b", value: "bb"}
	c := part{field: "more", filename: "c", value: "cccccc"}
	cases := []struct {
		name  string
		field string
		parts []part
		want  string // the kept file's name, "" for none
	}{
		{"the named field's", "file", []part{a, b, c}, "b"},
		{"another field's until the named one's", "file", []part{a, c, b}, "b"},
		{"the first of another field", "file", []part{a, c}, "a"},
		{"the first of any field", "", []part{c, b, a}, "c"},
		{"none", "file", []part{{field: "file", value: "a value, not a file"}}, ""},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			body, ct := formBody(t, cs.parts...)
			form, err := ReadForm(httptest.NewRecorder(), formRequest("/", ct, body), cs.field, roomy)
			if err != nil {
				t.Fatal(err)
			}
			if cs.want == "" {
				if form.File != nil || form.Files["file"] != 0 {
					t.Fatalf("kept %+v, counted %v", form.File, form.Files)
				}
				return
			}
			var value string
			for _, p := range cs.parts {
				if p.filename == cs.want {
					value = p.value
				}
			}
			if f := form.File; f == nil || f.Name != cs.want || string(f.Data) != value || f.Size != int64(len(value)) {
				t.Fatalf("kept %+v, want %q", f, cs.want)
			}
		})
	}
}

// TestReadFormLimits: a body, a file and fields over their limits.
func TestReadFormLimits(t *testing.T) {
	file := strings.Repeat("f", 1000)
	body, ct := formBody(t, part{field: "id", value: strings.Repeat("i", 100)}, part{field: "file", filename: "f", value: file})

	limits := FormLimits{Body: int64(len(body)), File: 1000, Fields: 100}
	if _, err := ReadForm(httptest.NewRecorder(), formRequest("/", ct, body), "file", limits); err != nil {
		t.Fatalf("a form at every limit: %v", err)
	}

	over := limits
	over.Body--
	_, err := ReadForm(httptest.NewRecorder(), formRequest("/", ct, body), "file", over)
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) || tooBig.Limit != over.Body {
		t.Errorf("a body over the limit: %v, want an *http.MaxBytesError", err)
	}

	over = limits
	over.File--
	form, err := ReadForm(httptest.NewRecorder(), formRequest("/", ct, body), "file", over)
	if err != nil || form.File == nil || form.File.Size != 1000 || form.File.Data != nil || form.File.Name != "f" {
		t.Errorf("a file over the limit: %+v, %v; want its size and no bytes", form.File, err)
	}

	over = limits
	over.Fields--
	_, err = ReadForm(httptest.NewRecorder(), formRequest("/", ct, body), "file", over)
	if !errors.Is(err, multipart.ErrMessageTooLarge) {
		t.Errorf("fields over the limit: %v, want multipart.ErrMessageTooLarge", err)
	}

	// The limit bounds all the fields together.
	body2, ct2 := formBody(t, part{field: "a", value: strings.Repeat("a", 60)}, part{field: "b", value: strings.Repeat("b", 60)})
	_, err = ReadForm(httptest.NewRecorder(), formRequest("/", ct2, body2), "file", limits)
	if !errors.Is(err, multipart.ErrMessageTooLarge) {
		t.Errorf("two fields over the limit together: %v, want multipart.ErrMessageTooLarge", err)
	}

	var many []part
	for range maxParts + 1 {
		many = append(many, part{field: "x"})
	}
	body3, ct3 := formBody(t, many...)
	_, err = ReadForm(httptest.NewRecorder(), formRequest("/", ct3, body3), "file", roomy)
	if !errors.Is(err, multipart.ErrMessageTooLarge) {
		t.Errorf("%d parts: %v, want multipart.ErrMessageTooLarge", len(many), err)
	}
	if _, err = ReadForm(httptest.NewRecorder(), formRequest("/", ct3, body3[:len(body3)*9/10]), "file", roomy); errors.Is(err, multipart.ErrMessageTooLarge) {
		t.Errorf("fewer parts: %v", err)
	}
}

// TestReadFormRefuses: bodies that are no form, or no good one, are
// refused as http.Request.ParseMultipartForm refuses them.
func TestReadFormRefuses(t *testing.T) {
	good, ct := formBody(t, part{field: "file", filename: "f", value: "data"})
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	cases := []struct {
		name, target, contentType string
		body                      []byte
		want                      error // nil: any error but these
	}{
		{"no Content-Type", "/", "", good, http.ErrNotMultipart},
		{"not a form", "/", "application/octet-stream", good, http.ErrNotMultipart},
		{"mixed", "/", "multipart/mixed; boundary=" + boundary, good, http.ErrNotMultipart},
		{"bad media parameter", "/", "multipart/form-data; boundary=" + boundary + "; x", good, http.ErrNotMultipart},
		{"no boundary", "/", "multipart/form-data", good, http.ErrMissingBoundary},
		{"empty boundary", "/", `multipart/form-data; boundary=""`, good, nil},
		{"another boundary", "/", "multipart/form-data; boundary=other", good, nil},
		{"cut short", "/", ct, good[:len(good)-10], nil},
		{"empty body", "/", ct, nil, nil},
		{"bad query", "/?a=%zz", ct, good, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form, err := ReadForm(httptest.NewRecorder(), formRequest(c.target, c.contentType, c.body), "file", roomy)
			std := formRequest(c.target, c.contentType, c.body)
			stdErr := std.ParseMultipartForm(1 << 20)
			switch {
			case err == nil || form != nil:
				t.Fatalf("read %+v, want an error", form)
			case c.want != nil && err != c.want:
				t.Fatalf("%v, want %v", err, c.want)
			case stdErr == nil || err.Error() != stdErr.Error():
				t.Fatalf("%v, but ParseMultipartForm: %v", err, stdErr)
			}
		})
	}
}

// TestReadFormAllocates: the file part of a body of known length, or of
// one in memory, is read into one buffer about its size.
func TestReadFormAllocates(t *testing.T) {
	const size = 4 << 20
	body, ct := formBody(t, part{field: "id", value: "u1"}, part{field: "file", filename: "f", value: strings.Repeat("x", size)})
	limits := FormLimits{Body: size + 64<<10, File: size, Fields: 64 << 10}
	for name, r := range map[string]func() *http.Request{
		"sized": func() *http.Request { return formRequest("/", ct, body) },
		"in memory": func() *http.Request {
			r := formRequest("/", ct, nil)
			r.Body = newMemBody(body)
			return r
		},
	} {
		n := allocated(func() {
			form, err := ReadForm(httptest.NewRecorder(), r(), "file", limits)
			if err != nil || form.File == nil || len(form.File.Data) != size {
				t.Fatalf("%s: %+v, %v", name, form, err)
			}
		})
		if n > size*12/10 {
			t.Errorf("%s: reading a %d-byte file part allocated %d bytes (%.2f×)", name, size, n, float64(n)/size)
		}
	}
}

// FuzzReadForm reads any body as ReadForm and as
// http.Request.ParseMultipartForm: they fail alike, or read the same
// fields and files, and the file ReadForm keeps is the one
// ParseMultipartForm has first in the field "file" (or its only file).
func FuzzReadForm(f *testing.F) {
	body, ct := formBody(f,
		part{field: "id", value: "u1"},
		part{field: "other", filename: "a.txt", value: "aaaa"},
		part{field: "file", filename: "b/c.bin", contentType: "text/plain", value: "chunk"},
		part{field: "file", filename: "d", value: "dd"},
	)
	f.Add(ct, "id=q", body)
	f.Add(ct, "", body[:len(body)/2])
	body, ct = formBody(f, part{field: "only", filename: "o", value: strings.Repeat("o", 5000)})
	f.Add(ct, "a=%zz", body)
	f.Add("multipart/form-data; boundary=x", "", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--x--\r\n"))
	f.Add("multipart/form-data; boundary=x", "", []byte("--x\r\nbroken"))
	f.Add("application/x-www-form-urlencoded", "", []byte("a=b"))
	f.Fuzz(func(t *testing.T, contentType, rawQuery string, body []byte) {
		const limit = 4 << 10
		r := formRequest("/", contentType, body)
		r.URL.RawQuery = rawQuery
		form, err := ReadForm(httptest.NewRecorder(), r, "file", FormLimits{Body: limit, File: limit, Fields: limit})
		std := formRequest("/", contentType, body)
		std.URL.RawQuery = rawQuery
		std.Body = http.MaxBytesReader(httptest.NewRecorder(), std.Body, limit)
		stdErr := std.ParseMultipartForm(limit)
		if std.MultipartForm != nil {
			defer std.MultipartForm.RemoveAll()
		}
		if err != nil || stdErr != nil {
			if err == nil || stdErr == nil || err.Error() != stdErr.Error() {
				t.Fatalf("ReadForm: %v; ParseMultipartForm: %v", err, stdErr)
			}
			return
		}
		sf := std.MultipartForm
		if !reflect.DeepEqual(form.Value, sf.Value) {
			t.Fatalf("values %q, ParseMultipartForm's %q", form.Value, sf.Value)
		}
		counts := map[string]int{}
		var want *multipart.FileHeader
		for k, fhs := range sf.File {
			counts[k] = len(fhs)
			want = fhs[0]
		}
		if !maps.Equal(form.Files, counts) {
			t.Fatalf("files %v, ParseMultipartForm's %v", form.Files, counts)
		}
		if fhs := sf.File["file"]; len(fhs) > 0 {
			want = fhs[0]
		} else if len(sf.File) > 1 {
			want = nil // which came first is lost in sf.File
		}
		if want != nil {
			checkFile(t, form.File, want)
		}
		for k := range std.Form {
			if form.FormValue(k) != std.FormValue(k) || form.PostFormValue(k) != std.PostFormValue(k) {
				t.Fatalf("%s: %q and %q, ParseMultipartForm's %q and %q", k, form.FormValue(k), form.PostFormValue(k), std.FormValue(k), std.PostFormValue(k))
			}
		}
	})
}

func checkFile(t *testing.T, got *File, want *multipart.FileHeader) {
	t.Helper()
	f, err := want.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Name != want.Filename || got.ContentType != want.Header.Get("Content-Type") || got.Size != want.Size || !bytes.Equal(got.Data, data) {
		t.Fatalf("kept %+v, ParseMultipartForm's first %q %v (%d bytes)", got, want.Filename, want.Header, want.Size)
	}
}
