package samtemplate

import (
	"fmt"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// BucketCORS returns the CORS rules of the template's only S3 bucket, as
// PutBucketCors takes them, with origins in place of a rule's
// AllowedOrigins when that is a reference to a parameter (AllowedOrigins),
// so that the local S3 server answers a page's direct uploads as the
// deployed bucket does. A bucket without rules has none.
func (t *Template) BucketCORS(origins []string) ([]s3types.CORSRule, error) {
	buckets := t.ResourcesOfType("AWS::S3::Bucket")
	if len(buckets) != 1 {
		return nil, fmt.Errorf("samtemplate: %d S3 buckets, want 1", len(buckets))
	}
	conf := asMap(buckets[0].Properties["CorsConfiguration"])
	var rules []s3types.CORSRule
	for i, raw := range asSlice(conf["CorsRules"]) {
		r := asMap(raw)
		rule := s3types.CORSRule{
			AllowedMethods: stringList(r["AllowedMethods"]),
			AllowedHeaders: stringList(r["AllowedHeaders"]),
			ExposeHeaders:  stringList(r["ExposedHeaders"]),
			AllowedOrigins: stringList(r["AllowedOrigins"]),
		}
		if isIntrinsic(asMap(r["AllowedOrigins"])) {
			rule.AllowedOrigins = origins
		}
		if age, ok := r["MaxAge"]; ok {
			n, err := integer(age)
			if err != nil {
				return nil, fmt.Errorf("samtemplate: bucket CORS rule %d: MaxAge: %w", i, err)
			}
			rule.MaxAgeSeconds = ptr(int32(n))
		}
		if len(rule.AllowedMethods) == 0 || len(rule.AllowedOrigins) == 0 {
			return nil, fmt.Errorf("samtemplate: bucket CORS rule %d names no methods or no origins", i)
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// stringList is a list of scalars as strings (an intrinsic or other value:
// none).
func stringList(v any) []string {
	var out []string
	for _, e := range asSlice(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
