//! Where log lines go between the thread that logs them and the log: a buffer in memory
//! that a thread of its own writes out every few milliseconds, all of it in one `write`.
//!
//! A thread that logs only appends its line under a lock and goes on; it wakes the writing
//! thread only when that thread sleeps with nothing to write (the first line after a quiet
//! spell) or when the buffer is full. A busy server therefore hands its lines over without
//! a thread switch each, and writes about a hundred times a second however many lines it
//! logs. Nothing is dropped: when the buffer is full, the thread that logs waits for room.
//! Dropping the [`Flusher`] writes what is buffered and stops the thread.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// How many bytes may wait before a thread that logs waits for them to be written.
const BUFFERED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
struct Buffer {
    lines: Vec<u8>,
    /// The writing thread sleeps until a line comes.
    idle: bool,
    /// The [`Flusher`] was dropped: write what is left and stop.
    closed: bool,
}

#[derive(Debug)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// Wakes the writing thread: a first line, a full buffer or the end.
    wake: Condvar,
    /// The writing thread took the buffer: there is room again.
    room: Condvar,
    limit: usize,
}

impl Shared {
    fn buffer(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the log's subscriber writes each line through.
#[derive(Debug, Clone)]
pub(crate) struct BatchWriter(Arc<Shared>);

/// Keeps the writing thread; dropping it writes what is buffered and stops the thread.
#[derive(Debug)]
pub(crate) struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer into `sink` through a thread named `name`.
pub(crate) fn batched(
    sink: impl Write + Send + 'static,
    name: &str,
) -> std::io::Result<(BatchWriter, Flusher)> {
    batched_up_to(sink, name, BUFFERED_BYTES)
}

fn batched_up_to(
    mut sink: impl Write + Send + 'static,
    name: &str,
    limit: usize,
) -> std::io::Result<(BatchWriter, Flusher)> {
    let shared = Arc::new(Shared {
        buffer: Mutex::default(),
        wake: Condvar::new(),
        room: Condvar::new(),
        limit,
    });
    let thread = std::thread::Builder::new().name(name.to_owned()).spawn({
        let shared = Arc::clone(&shared);
        move || write_until_closed(&shared, &mut sink)
    })?;
    Ok((
        BatchWriter(Arc::clone(&shared)),
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_until_closed(shared: &Shared, sink: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        let closed = {
            let mut buffer = shared.buffer();
            while buffer.lines.is_empty() && !buffer.closed {
                buffer.idle = true;
                buffer = shared
                    .wake
                    .wait(buffer)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            buffer.idle = false;
            // Let more lines come, to write them all at once.
            if !buffer.closed && buffer.lines.len() < shared.limit {
                buffer = shared
                    .wake
                    .wait_timeout(buffer, FLUSH_EVERY)
                    .map_or_else(|e| e.into_inner().0, |(buffer, _)| buffer);
            }
            std::mem::swap(&mut buffer.lines, &mut batch);
            buffer.closed
        };
        shared.room.notify_all();
        // A log that cannot be written has nowhere to say so.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        if closed {
            return;
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.buffer().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's writer: a borrow of the buffer.
#[derive(Debug)]
pub(crate) struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let shared = self.0;
        let mut buffer = shared.buffer();
        while buffer.lines.len() >= shared.limit && !buffer.closed {
            shared.wake.notify_one();
            buffer = shared
                .room
                .wait(buffer)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if buffer.closed {
            // The thread has written its last: a line logged after the end has nowhere to
            // go, and keeping it would only grow the buffer.
            return Ok(bytes.len());
        }
        buffer.lines.extend_from_slice(bytes);
        if buffer.idle {
            buffer.idle = false;
            shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sink whose bytes the test can read, optionally slow to write.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.delay);
            self.written.lock().unwrap().extend_from_slice(bytes);
            *self.writes.lock().unwrap() += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.written.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// Lines from two threads at once: each thread's in its order, none lost, and written
    /// in far fewer writes than there are lines.
    fn write_from_two_threads(writer: &BatchWriter, lines: usize) {
        std::thread::scope(|scope| {
            for thread in 0..2 {
                scope.spawn(move || {
                    for n in 0..lines {
                        // One `write_all` a line, as the subscriber writes them.
                        let line = format!("{thread} {n}\n");
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                });
            }
        });
    }

    fn assert_in_order(lines: &[String], per_thread: usize) {
        assert_eq!(lines.len(), 2 * per_thread);
        for thread in 0..2 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{thread} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..per_thread).collect::<Vec<_>>());
        }
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_flusher_is_dropped() {
        let sink = Sink::default();
        let (writer, flusher) = batched(sink.clone(), "test-log").unwrap();
        write_from_two_threads(&writer, 20_000);
        drop(flusher);
        assert_in_order(&sink.lines(), 20_000);
        let writes = *sink.writes.lock().unwrap();
        assert!(writes < 1_000, "{writes} writes for 40,000 lines");
    }

    #[test]
    fn a_line_after_the_end_is_not_kept() {
        let sink = Sink::default();
        let (writer, flusher) = batched(sink.clone(), "test-log").unwrap();
        writer.make_writer().write_all(b"before\n").unwrap();
        drop(flusher);
        writer.make_writer().write_all(b"after\n").unwrap();
        assert_eq!(sink.lines(), ["before"]);
        assert!(writer.0.buffer().lines.is_empty());
    }

    #[test]
    fn a_full_buffer_makes_the_thread_that_logs_wait_rather_than_lose_lines() {
        // Room for a few lines only, and a sink slower than the lines come.
        let sink = Sink {
            delay: Duration::from_millis(2),
            ..Sink::default()
        };
        let (writer, flusher) = batched_up_to(sink.clone(), "test-log", 64).unwrap();
        write_from_two_threads(&writer, 500);
        drop(flusher);
        assert_in_order(&sink.lines(), 500);
    }

    #[test]
    fn a_line_reaches_the_sink_within_moments_while_the_flusher_lives() {
        let sink = Sink::default();
        let (writer, _flusher) = batched(sink.clone(), "test-log").unwrap();
        for round in 0..3 {
            // After a quiet spell, as the first line of a busy one.
            std::thread::sleep(FLUSH_EVERY * 3);
            let line = format!("line {round}\n");
            writer.make_writer().write_all(line.as_bytes()).unwrap();
            let started = Instant::now();
            while sink.lines().len() <= round {
                assert!(started.elapsed() < Duration::from_secs(5), "not written");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(sink.lines(), ["line 0", "line 1", "line 2"]);
    }
}
