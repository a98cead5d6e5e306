package server

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI checks that docs/openapi.yaml describes exactly the API's
// routes, with their methods.
func TestOpenAPI(t *testing.T) {
	f, err := os.Open("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/\S*):$`)
	methodRe := regexp.MustCompile(`^    (get|post|put|delete|patch):`)
	var documented []string
	inPaths, cur := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && len(line) > 0 && line[0] != ' ':
			inPaths = false
		case inPaths && pathRe.MatchString(line):
			cur = pathRe.FindStringSubmatch(line)[1]
		case inPaths && methodRe.MatchString(line):
			documented = append(documented, strings.ToUpper(methodRe.FindStringSubmatch(line)[1])+" "+cur)
		}
	}
	e := newEnv(t, nil)
	norm := strings.NewReplacer("{id...}", "{id}", "{sha}", "{sha256}")
	var served []string
	for _, r := range e.srv.apiRoutes {
		served = append(served, norm.Replace(r))
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) || len(served) < 15 {
		t.Errorf("docs/openapi.yaml documents\n%v\nthe server serves\n%v", documented, served)
	}
}
