package server

import (
	"context"
	"testing"

	"github.com/bugcheck/bugcheck/server/blob/cloudblob/s3test"
	"github.com/bugcheck/bugcheck/server/store/storetest"
)

// sharedState, when set, makes newEnv keep the state in a fresh
// PostgreSQL schema and a fake S3 bucket instead of a local folder.
var sharedState bool

// bucketState, when set, makes newEnv keep the blobs in a fake S3 bucket
// and the rest in a local folder.
var bucketState bool

// openTestData opens the state a test server runs on.
func openTestData(t testing.TB) (*Data, error) {
	if bucketState && !sharedState {
		return OpenDataWith(context.Background(), t.TempDir(), DataOptions{Blobs: s3test.Server(t, "dumps")})
	}
	if !sharedState {
		return OpenData(context.Background(), t.TempDir())
	}
	return OpenDataWith(context.Background(), t.TempDir(), DataOptions{DB: storetest.Postgres(t), Blobs: s3test.Server(t, "dumps")})
}

// TestSharedState runs the end-to-end tests again on PostgreSQL and S3
// (found through $BUGCHECK_TEST_POSTGRES; skipped without it outside CI).
func TestSharedState(t *testing.T) {
	storetest.Postgres(t)
	sharedState = true
	defer func() { sharedState = false }()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"UploadKinds", TestUploadKinds},
		{"Multipart", TestMultipart},
		{"Rejected", TestRejected},
		{"Auth", TestAuth},
		{"PagesAndCSRF", TestPagesAndCSRF},
		{"Reanalyze", TestReanalyze},
		{"BrokenDumpFails", TestBrokenDumpFails},
		{"LeaseRenewal", TestLeaseRenewal},
		{"EventLogTimeline", TestEventLogTimeline},
		{"EventLogMachineName", TestEventLogMachineName},
		{"JunkEventLog", TestJunkEventLog},
		{"RoleMatrix", TestRoleMatrix},
		{"SignIn", TestSignIn},
		{"AdminPage", TestAdminPage},
		{"DumpDownload", TestDumpDownload},
		{"DumpPage", TestDumpPage},
		{"UploadDownload", TestUploadDownload},
		{"UploadFileRole", TestUploadFileRole},
		{"UploadPage", TestUploadPage},
		{"SignInLimit", TestSignInLimit},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// TestBucketDownload downloads dumps and uploads from a fake S3 bucket,
// whose readers are not local files.
func TestBucketDownload(t *testing.T) {
	bucketState = true
	defer func() { bucketState = false }()
	t.Run("DumpDownload", TestDumpDownload)
	t.Run("UploadDownload", TestUploadDownload)
}
