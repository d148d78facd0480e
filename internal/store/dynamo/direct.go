package dynamo

import "chunkup/internal/upload"

// A direct upload's session keeps its kind and what its client was told
// at its start (upload.DirectPlan); its parts are S3's and have no items.

func encodeDirect(it item, s *upload.Session) {
	if s.Kind != upload.Direct {
		return
	}
	it["kind"] = str(string(s.Kind))
	it["declared"] = boolean(s.Direct.Declared)
	it["partSize"] = num(s.Direct.PartSize)
	it["maxPart"] = num(int64(s.Direct.MaxPart))
	it["form"] = boolean(s.Direct.Form)
}

func decodeDirect(it item, s *upload.Session) {
	if s.Kind != upload.Direct {
		return
	}
	s.Direct = upload.DirectPlan{
		Declared: it.bool("declared"),
		PartSize: it.int("partSize"),
		MaxPart:  int(it.int("maxPart")),
		Form:     it.bool("form"),
	}
	s.PartSize = 0 // the attribute is the direct plan's, not a stream's
}
