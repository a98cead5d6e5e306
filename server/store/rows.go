package store

// Scanner reads one row's columns: a database/sql or pgx row or result set.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a result set as database/sql and pgx both give it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect reads every row of rows with scan; the stores share it so each
// row type is decoded in one place per store.
func Collect[T any](rows Rows, scan func(Scanner) (*T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}
