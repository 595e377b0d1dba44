//! A small reader for the CSV files swarmlab writes (RFC 4180: comma
//! separated, optional double quotes with `""` escapes, LF or CRLF line ends).

use std::path::{Path, PathBuf};

/// One CSV file: its header and its rows, all as text.
#[derive(Debug)]
pub struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads and parses `path`; the error names the file and line.
    pub fn read(path: &Path) -> Result<Table, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Table::parse(path, &text)
    }

    /// Parses CSV `text`; `path` names it in errors. Every row must have as
    /// many fields as the header.
    pub fn parse(path: &Path, text: &str) -> Result<Table, String> {
        let err = |line: usize, what: &str| format!("{}: line {line}: {what}", path.display());
        let mut records: Vec<(usize, Vec<String>)> = Vec::new();
        let mut field = String::new();
        let mut record: Vec<String> = Vec::new();
        let (mut line, mut record_line) = (1usize, 1usize);
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        let mut at_field_start = true;
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                ',' => {
                    record.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    record.push(std::mem::take(&mut field));
                    records.push((record_line, std::mem::take(&mut record)));
                    line += 1;
                    record_line = line;
                    at_field_start = true;
                }
                _ => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        if quoted {
            return Err(err(record_line, "unterminated quoted field"));
        }
        if !field.is_empty() || !record.is_empty() {
            record.push(field);
            records.push((record_line, record));
        }
        // Blank lines carry no record.
        records.retain(|(_, r)| !(r.len() == 1 && r[0].is_empty()));
        let mut it = records.into_iter();
        let Some((_, header)) = it.next() else {
            return Err(err(1, "empty file: expected a header line"));
        };
        let mut rows = Vec::new();
        for (l, r) in it {
            if r.len() != header.len() {
                return Err(err(l, &format!("{} fields, but the header has {}", r.len(), header.len())));
            }
            rows.push(r);
        }
        Ok(Table { path: path.to_path_buf(), header, rows })
    }

    /// Index of column `name`, if present.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Index of column `name`, or an error naming the file and the column.
    pub fn need(&self, name: &str) -> Result<usize, String> {
        self.col(name).ok_or_else(|| format!("{}: no column `{name}` in the header", self.path.display()))
    }

    /// The number in row `row`, column `col`: `None` for an empty field (undefined), an
    /// error naming the file, line and column for anything that is not a number.
    pub fn num(&self, row: usize, col: usize) -> Result<Option<f64>, String> {
        let s = self.rows[row][col].trim();
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(format!(
                "{}: row {}: column `{}`: expected a number, found `{s}`",
                self.path.display(),
                row + 2,
                self.header[col]
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_crlf_and_empty_fields() {
        let t = Table::parse(Path::new("t.csv"), "a,b,c\r\n1,\"x,\"\"y\"\"\",\r\n\n2,,3\n").unwrap();
        assert_eq!(t.header, ["a", "b", "c"]);
        assert_eq!(t.rows, [vec!["1", "x,\"y\"", ""], vec!["2", "", "3"]]);
        assert_eq!(t.num(0, 2).unwrap(), None);
        assert_eq!(t.num(1, 2).unwrap(), Some(3.0));
        assert!(t.num(0, 1).unwrap_err().contains("column `b`"));
    }

    #[test]
    fn ragged_rows_and_empty_files_are_errors() {
        let e = Table::parse(Path::new("t.csv"), "a,b\n1,2\n3\n").unwrap_err();
        assert_eq!(e, "t.csv: line 3: 1 fields, but the header has 2");
        assert!(Table::parse(Path::new("t.csv"), "").unwrap_err().contains("empty"));
        assert!(Table::parse(Path::new("t.csv"), "a\n\"x\n").unwrap_err().contains("unterminated"));
    }
}
