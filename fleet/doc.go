// Package fleet analyses many crash dumps at once, the way a help desk
// receives them: files, folders searched recursively, glob patterns and
// archives (.zip, .gz, and .cab as Windows Error Reporting packs a crash)
// read in place without unpacking to disk.
//
// Run enumerates the inputs, analyses them with a bounded number of
// parallel workers and hands each result to a callback in input order, so
// memory stays bounded however many dumps there are: only a small window
// of results is ever held, never every report. Identical files (same
// SHA-256) are analysed once and the copies reported as duplicates; a file
// that cannot be read or parsed is reported with its error and never stops
// the run.
//
// Grouper folds results into buckets (the analyze package's grouping key)
// with counts, first and last crash, machines and the drivers blamed, for
// fleet-wide triage.
package fleet
