//! The one tracing subscriber of the test process: every event at TRACE level goes into a
//! process-wide buffer (searched for keys that must never be logged) and to the capture of the
//! thread that emitted it (for tests that assert on their own events).
//!
//! One global subscriber, installed once: tracing allows one, and scoped (`set_default`)
//! subscribers in tests running in parallel race on tracing's callsite-interest cache and can
//! miss events.

use std::cell::RefCell;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, Once, OnceLock};

use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the process's subscriber, once; later calls do nothing.
pub fn capture_logs() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| BufferWriter)
            .finish()
            .with(PerThread)
            .try_init();
    });
}

/// Everything `tracing` (and the `log` crate, through tracing-log) printed in this process since
/// [`capture_logs`], from every test and thread.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(
        &log_buffer()
            .lock()
            .expect("the log buffer is never poisoned"),
    )
    .into_owned()
}

fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(Vec::new()))
}

struct BufferWriter;

impl std::io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        log_buffer()
            .lock()
            .expect("the log buffer is never poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events of one test thread as `message field=value ...` lines. A test on a current-thread
/// runtime keeps its requests' events on its own thread, so tests running in parallel do not see
/// each other's.
#[derive(Clone, Default)]
pub struct ThreadLogs(Arc<Mutex<Vec<String>>>);

thread_local! {
    static THREAD_LOGS: RefCell<Option<ThreadLogs>> = const { RefCell::new(None) };
}

impl ThreadLogs {
    /// Starts capturing this thread's events (installing the subscriber if no test has yet).
    pub fn start() -> ThreadLogs {
        capture_logs();
        let logs = ThreadLogs::default();
        THREAD_LOGS.with(|slot| *slot.borrow_mut() = Some(logs.clone()));
        logs
    }

    /// Captured events whose message is exactly `message`.
    pub fn lines(&self, message: &str) -> Vec<String> {
        let prefix = format!(" message={message} ");
        let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        lines
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect()
    }
}

/// Hands each event to its thread's [`ThreadLogs`], if that thread started one.
struct PerThread;

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for PerThread {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        THREAD_LOGS.with(|logs| {
            if let Some(ThreadLogs(lines)) = &*logs.borrow()
                && let Ok(mut lines) = lines.lock()
            {
                let mut line = Line(String::new());
                event.record(&mut line);
                lines.push(line.0);
            }
        });
    }
}
