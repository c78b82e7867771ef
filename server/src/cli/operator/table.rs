//! Plain-text tables for the operator commands: a header in capitals, one
//! row per item, columns padded to their widest cell and two spaces apart
//! (as Nomad's and kubectl's CLIs print them), nothing but text, so that
//! `grep` and `awk` work on the output.

/// A table being filled.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines of text, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (index, cell) in cells.take(columns).enumerate() {
                out.push_str(cell);
                if index + 1 < columns {
                    let pad = widths[index] - cell.chars().count() + 2;
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut text = line(&mut self.header.iter().copied());
        for row in &self.rows {
            text.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        text
    }
}

/// A resource amount as an operator reads it: `0.5`, `2`, `1.25`.
pub fn amount(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(&["ID", "STATE"]);
        table.row(vec!["a-long-id".into(), "TASK_RUNNING".into()]);
        table.row(vec!["b".into(), "".into()]);
        assert_eq!(
            table.render(),
            "ID         STATE\na-long-id  TASK_RUNNING\nb\n"
        );
    }

    #[test]
    fn amounts_drop_needless_decimals() {
        assert_eq!(amount(2.0), "2");
        assert_eq!(amount(0.5), "0.5");
        assert_eq!(amount(1.25), "1.25");
        assert_eq!(amount(1024.0), "1024");
    }
}
