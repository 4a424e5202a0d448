//! Tests of `format`: names, the writer's limits, the readers' errors.

use super::testutil::*;
use super::*;

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>(), Ok(f));
    }
    assert_eq!(Format::default(), Format::Tsv);
    let err = "csv".parse::<Format>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown format `csv` (expected tsv, jsonl, resp or rdb)"
    );
}

#[test]
fn writer_refuses_pairs_no_reader_accepts() {
    for (k, v) in [
        (Vec::new(), b"v".to_vec()),
        (vec![b'k'; MAX_KEY_LEN + 1], Vec::new()),
    ] {
        for f in Format::ALL {
            let err = Writer::new(f, Vec::new()).write_pair(&k, &v).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }
}

#[test]
fn reader_stops_after_first_error() {
    let mut r = Reader::new(Format::Tsv, &b"a\t1\nbad\nc\t3\n"[..]);
    assert!(matches!(r.next(), Some(Ok(_))));
    let err = r.next().expect("an item").unwrap_err();
    assert_eq!(err.position(), Some(Position::Line(2)));
    assert_eq!(
        err.to_string(),
        "line 2: expected a TAB between key and value"
    );
    assert!(r.next().is_none());
    assert!(r.next().is_none());
}

#[test]
fn a_tsv_line_without_a_tab_is_refused_before_it_is_read_whole() {
    // 8 MiB of key-ish bytes and no TAB: refused at the first 256 KiB.
    struct Endless(usize);
    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0);
            buf[..n].fill(b'a');
            self.0 -= n;
            Ok(n)
        }
    }
    let mut input = io::BufReader::new(Endless(8 << 20));
    let mut r = Reader::new(Format::Tsv, &mut input);
    let err = r.next().unwrap().unwrap_err().to_string();
    assert!(err.starts_with("line 1: expected a TAB within"), "{err}");
    drop(r);
    let left = input.get_ref().0;
    assert!(
        left > (7 << 20),
        "read {} bytes before refusing",
        (8 << 20) - left
    );
    // A long key that is legal still loads.
    let key = vec![b'k'; MAX_KEY_LEN];
    let mut line = key.clone();
    line.extend_from_slice(b"\tv\n");
    let pairs: Vec<_> = Reader::new(Format::Tsv, &line[..])
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(pairs, vec![Entry::new(key, b"v".to_vec())]);
}

#[test]
fn io_errors_are_reported_as_io() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    for f in Format::ALL {
        let mut r = Reader::new(f, io::BufReader::new(Failing));
        let err = r.next().expect("an item").unwrap_err();
        assert!(matches!(err, ParseError::Io(_)), "{err:?}");
        assert_eq!(err.position(), None);
    }
}

#[test]
fn overlong_line_is_refused_without_reading_it_all() {
    let mut lines = LineReader::new(&b"0123456789\nok\n"[..], 4, false);
    let err = lines.next_line().unwrap_err();
    assert_eq!(err.position(), Some(Position::Line(1)));
    assert!(err.to_string().contains("longer than 4 bytes"), "{err}");
}

#[test]
fn every_format_round_trips_nasty_bytes() {
    let pairs = nasty_pairs();
    for f in Format::ALL {
        assert_eq!(load(f, &dump(f, &pairs)).expect("reads back"), pairs, "{f}");
    }
}
