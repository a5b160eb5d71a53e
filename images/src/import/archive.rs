//! Reads an image archive (a tar, plain or gzip or zstd compressed, told
//! apart by magic bytes) once, front to back, on a blocking thread, and hands
//! its regular files to the async importer as [`Piece`]s: small files whole,
//! large ones in chunks so a 500 MB air-gap archive never sits in memory.
//! It knows nothing of containerd and does not interpret the files.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use tokio::sync::mpsc;

/// Files up to this size are kept in memory (manifests, configs, indexes and
/// small layers); larger ones are streamed.
pub(crate) const SMALL_FILE: u64 = 4 << 20;
/// Size of one streamed chunk (containerd accepts gRPC messages up to 16 MiB).
pub(crate) const CHUNK: usize = 1 << 20;

/// Where an archive comes from.
#[derive(Debug, Clone)]
pub enum ArchiveSource {
    /// An archive already in memory; `label` names it in errors.
    Bytes { label: String, bytes: Vec<u8> },
    /// An archive file.
    Path(PathBuf),
}

impl ArchiveSource {
    /// How errors name this archive.
    pub fn label(&self) -> String {
        match self {
            ArchiveSource::Bytes { label, .. } => label.clone(),
            ArchiveSource::Path(path) => path.display().to_string(),
        }
    }
}

impl From<Vec<u8>> for ArchiveSource {
    fn from(bytes: Vec<u8>) -> Self {
        ArchiveSource::Bytes { label: "<archive in memory>".to_string(), bytes }
    }
}

impl From<PathBuf> for ArchiveSource {
    fn from(path: PathBuf) -> Self {
        ArchiveSource::Path(path)
    }
}

impl From<&std::path::Path> for ArchiveSource {
    fn from(path: &std::path::Path) -> Self {
        ArchiveSource::Path(path.to_path_buf())
    }
}

/// One step of reading an archive.
#[derive(Debug)]
pub(crate) enum Piece {
    /// A small regular file, whole.
    Small { path: String, data: Vec<u8> },
    /// A large regular file starts; `Chunk`s and then `End` follow.
    Begin { path: String, size: u64 },
    /// The next bytes of the large file.
    Chunk(Vec<u8>),
    /// The large file is complete.
    End,
}

/// Compression of a stream, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Reads `source` and sends its pieces; stops early when the receiver is gone.
/// Runs on a blocking thread.
pub(crate) fn read_pieces(source: ArchiveSource, tx: mpsc::Sender<std::io::Result<Piece>>) {
    let result = match source {
        ArchiveSource::Bytes { bytes, .. } => send_pieces(std::io::Cursor::new(bytes), &tx),
        ArchiveSource::Path(path) => std::fs::File::open(&path).and_then(|file| send_pieces(file, &tx)),
    };
    if let Err(e) = result {
        // The receiver may be gone already; then nobody needs the error.
        let _ = tx.blocking_send(Err(e));
    }
}

fn send_pieces(reader: impl Read, tx: &mpsc::Sender<std::io::Result<Piece>>) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(CHUNK, reader);
    let head = reader.fill_buf()?.to_vec();
    let decoded: Box<dyn Read> = match compression_of(&head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::None => Box::new(reader),
    };
    let mut archive = tar::Archive::new(decoded);
    let mut any = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        any = true;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = clean(&entry.path()?.to_string_lossy());
        let size = entry.size();
        let sent = if size <= SMALL_FILE {
            let mut data = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut data)?;
            tx.blocking_send(Ok(Piece::Small { path, data })).is_ok()
        } else {
            if tx.blocking_send(Ok(Piece::Begin { path, size })).is_err() {
                return Ok(());
            }
            loop {
                let mut chunk = vec![0; CHUNK];
                let n = read_full(&mut entry, &mut chunk)?;
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                if tx.blocking_send(Ok(Piece::Chunk(chunk))).is_err() {
                    return Ok(());
                }
            }
            tx.blocking_send(Ok(Piece::End)).is_ok()
        };
        if !sent {
            return Ok(());
        }
    }
    if !any {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "empty or not a tar archive"));
    }
    Ok(())
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// `./blobs/sha256/x` and `blobs/sha256/x` are the same file.
fn clean(path: &str) -> String {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, path, data.as_slice()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn collect(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        let (tx, mut rx) = mpsc::channel(4);
        let reader = std::thread::spawn(move || read_pieces(bytes.into(), tx));
        let mut files = Vec::new();
        let mut current: Option<(String, Vec<u8>)> = None;
        while let Some(piece) = rx.blocking_recv() {
            match piece.unwrap() {
                Piece::Small { path, data } => files.push((path, data)),
                Piece::Begin { path, .. } => current = Some((path, Vec::new())),
                Piece::Chunk(data) => current.as_mut().unwrap().1.extend(data),
                Piece::End => files.push(current.take().unwrap()),
            }
        }
        reader.join().unwrap();
        files
    }

    #[test]
    fn reads_plain_gzip_and_zstd_alike() {
        let large: Vec<u8> = (0..(SMALL_FILE as usize + CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        let plain = tar_of(&[("./index.json", b"{}".to_vec()), ("blobs/sha256/big", large.clone())]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(plain.as_slice(), 1).unwrap();
        for bytes in [plain.clone(), gz, zst] {
            let files = collect(bytes);
            assert_eq!(
                files,
                vec![("index.json".to_string(), b"{}".to_vec()), ("blobs/sha256/big".to_string(), large.clone())]
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let (tx, mut rx) = mpsc::channel(4);
        std::thread::spawn(move || read_pieces(b"definitely not a tar".to_vec().into(), tx));
        let first = rx.blocking_recv().unwrap();
        assert!(first.is_err());
    }

    #[test]
    fn compression_by_magic() {
        assert_eq!(compression_of(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(compression_of(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(compression_of(b"ustar"), Compression::None);
    }
}
