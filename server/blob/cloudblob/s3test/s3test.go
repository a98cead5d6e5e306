// Package s3test runs an in-process fake S3 server
// (github.com/johannesboyne/gofakes3) for tests of object storage.
package s3test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server starts a fake S3 server with an empty bucket for the duration of
// t and returns the s3:// URL that opens the bucket through it. It sets
// the AWS credential variables, so t must not run in parallel.
func Server(t testing.TB, bucket string) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(ts.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	q := url.Values{}
	q.Set("endpoint", ts.URL)
	q.Set("region", "us-east-1")
	q.Set("use_path_style", "true")
	return "s3://" + bucket + "?" + q.Encode()
}
