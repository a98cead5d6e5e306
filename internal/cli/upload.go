package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

func uploadCmd(stdout, stderr io.Writer) *cobra.Command {
	var serverURL, token, machine string
	var jobs int
	c := &cobra.Command{
		Use:   "upload --server URL PATH...",
		Short: "Send crash dumps to a bugcheck server",
		Long: `upload sends crash dumps to a 'bugcheck serve' server: files, and folders searched recursively
for .dmp, .dmp.gz, .zip, .cab and .evtx files — point it at C:\Windows\Minidump to push a machine's crashes,
and at an export of its System log (wevtutil epl System System.evtx) for the crash timeline.
The token comes from --token or $BUGCHECK_TOKEN (an upload or admin token); the machine name from
--machine, else this computer's name. Files the server already has are reported, not sent twice
in effect (uploads are idempotent by SHA-256). Transient failures are retried.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" {
				return errors.New("--server URL is required")
			}
			base, err := url.Parse(serverURL)
			if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
				return fmt.Errorf("--server %q is not an http or https URL", serverURL)
			}
			if token == "" {
				token = os.Getenv("BUGCHECK_TOKEN")
			}
			if token == "" {
				return errors.New("no token: pass --token or set BUGCHECK_TOKEN")
			}
			if machine == "" {
				machine, _ = os.Hostname()
			}
			endpoint := base.JoinPath("api/v1/dumps").String()
			var files []string
			failed := 0
			for _, a := range args {
				fs, err := uploadFiles(a)
				if err != nil {
					fmt.Fprintf(stderr, "bugcheck: %v\n", err)
					failed++
				}
				files = append(files, fs...)
			}
			u := &uploader{client: &http.Client{Timeout: 30 * time.Minute}, endpoint: endpoint, token: token, machine: machine}
			var mu sync.Mutex
			work := make(chan string)
			var wg sync.WaitGroup
			for range max(jobs, 1) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for f := range work {
						msg, err := u.send(f)
						mu.Lock()
						if err != nil {
							fmt.Fprintf(stderr, "bugcheck: %s: %v\n", f, err)
							failed++
						} else {
							fmt.Fprintf(stdout, "%s: %s\n", f, msg)
						}
						mu.Unlock()
					}
				}()
			}
			for _, f := range files {
				work <- f
			}
			close(work)
			wg.Wait()
			if failed > 0 {
				return failedError{failed}
			}
			return nil
		},
	}
	c.Flags().StringVar(&serverURL, "server", "", "the server's URL, e.g. http://crashes.example:8080/")
	c.Flags().StringVar(&token, "token", "", "upload token (default $BUGCHECK_TOKEN)")
	c.Flags().StringVar(&machine, "machine", "", "machine name sent with the dumps (default: this computer's name)")
	c.Flags().IntVar(&jobs, "jobs", 4, "uploads at once")
	return c
}

// uploadFiles lists the files an argument names: itself, or the dumps and
// archives of a folder.
func uploadFiles(arg string) ([]string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{arg}, nil
	}
	var out []string
	err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := strings.ToLower(d.Name())
		if d.Type().IsRegular() && (strings.HasSuffix(n, ".dmp") || strings.HasSuffix(n, ".dmp.gz") || strings.HasSuffix(n, ".zip") || strings.HasSuffix(n, ".cab") || strings.HasSuffix(n, ".evtx")) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

type uploader struct {
	client                   *http.Client
	endpoint, token, machine string
	sleep                    func(time.Duration) // time.Sleep; tests replace it
}

// maxRetryAfter caps how long a Retry-After answer makes upload wait.
const maxRetryAfter = 5 * time.Minute

// send uploads one file, retrying network errors and 5xx/429 answers.
func (u *uploader) send(path string) (string, error) {
	const attempts = 5
	var last error
	var wait time.Duration
	sleep := u.sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	for i := range attempts {
		if i > 0 {
			// The server's Retry-After (a rate limit) wins over the backoff.
			sleep(max(wait, time.Duration(1<<(i-1))*time.Second))
		}
		msg, after, retry, err := u.try(path)
		if err == nil || !retry {
			return msg, err
		}
		last, wait = err, after
	}
	return "", fmt.Errorf("giving up after %d attempts: %w", attempts, last)
}

// try makes one attempt; after is the wait the server asked for.
func (u *uploader) try(path string) (msg string, after time.Duration, retry bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, false, err
	}
	req, err := http.NewRequest("POST", u.endpoint, f)
	if err != nil {
		return "", 0, false, err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("X-Bugcheck-Filename", filepath.Base(path))
	req.Header.Set("X-Bugcheck-Machine", u.machine)
	resp, err := u.client.Do(req)
	if err != nil {
		return "", 0, true, err
	}
	defer resp.Body.Close()
	var body struct {
		ID     int64  `json:"id"`
		SHA256 string `json:"sha256"`
		Error  string `json:"error"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
	switch {
	case resp.StatusCode == http.StatusCreated:
		return fmt.Sprintf("uploaded (upload %d, sha256 %s)", body.ID, body.SHA256), 0, false, nil
	case resp.StatusCode == http.StatusOK:
		return fmt.Sprintf("already on the server (upload %d)", body.ID), 0, false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return "", retryAfter(resp.Header.Get("Retry-After")), true, fmt.Errorf("server answered %s: %s", resp.Status, body.Error)
	}
	return "", 0, false, fmt.Errorf("server refused it: %s: %s", resp.Status, body.Error)
}

// retryAfter reads a Retry-After header in seconds (the server's form),
// capped at maxRetryAfter; 0 when absent or malformed.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}
