//! Group commit: one thread owns the SQLite connection and runs every caller's work on it. It
//! takes everything queued, runs it in one `BEGIN IMMEDIATE … COMMIT`, each caller's work in
//! its own savepoint, and answers each caller only once that commit is on disk. Two exceptions
//! answer as soon as the work has run: work that wrote nothing and saw nothing uncommitted (a
//! read before any write of its group), and queue bookkeeping whose loss redoes work
//! ([`Answer::BeforeSync`]).
//!
//! The database runs with `synchronous = FULL`, so every commit waits for an fsync of the WAL
//! (a few milliseconds on an ordinary disk). One commit per write would make concurrent webhook
//! deliveries queue for one fsync each; grouped, the deliveries that arrived while the previous
//! group was being written share the next fsync. No artificial delay: a group is whatever was
//! waiting when the thread got to it.
//!
//! Failures stay with their own caller: work that returns an error or panics is rolled back to
//! its savepoint and only its caller is told; the others in the group commit. Only a failure of
//! the group itself (BEGIN or COMMIT refused, SQLite rolling the transaction back after an I/O
//! error or a full disk) fails every caller in it, and then nothing of theirs was written.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::database::sqlite_error;
use crate::ports::StoreError;

/// The most callers in one transaction: bounds how long the first of them waits for the last.
const MAX_GROUP: usize = 256;

/// The connection's thread and the queue of work in front of it. Dropping it lets the thread
/// finish what is queued, close the connection and end.
pub(crate) struct GroupCommit {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    groups: Arc<AtomicU64>,
}

impl GroupCommit {
    pub(crate) fn start(connection: Connection) -> Result<Self, StoreError> {
        let (jobs, queued) = mpsc::channel::<Box<dyn Job>>();
        let groups = Arc::new(AtomicU64::new(0));
        let counted = groups.clone();
        let thread = std::thread::Builder::new()
            .name("casb-db-commit".into())
            .spawn(move || {
                while let Ok(first) = queued.recv() {
                    let mut group = vec![first];
                    group.extend(queued.try_iter().take(MAX_GROUP - 1));
                    commit_group(&connection, group, &counted);
                }
            })
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the database thread: {e}"))
            })?;
        Ok(GroupCommit {
            jobs: Some(jobs),
            thread: Some(thread),
            groups,
        })
    }

    /// Runs `work` in the next group and returns its result when `when` says. The work gets
    /// `&Connection`, not `&mut`: it runs inside the group's transaction and cannot open one of
    /// its own; everything it writes is kept or rolled back as one.
    pub(crate) async fn run<T, F>(&self, when: Answer, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending { work, when, reply });
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| StoreError::Unavailable("the database thread has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("database work panicked; nothing it wrote was kept".into())
        })?
    }

    /// Group transactions committed so far (one fsync each, unless nothing in it wrote), for
    /// tests and diagnostics.
    pub(crate) fn groups_committed(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // Wait for the queued work and the connection's close, so that whoever opens the
            // file next finds it closed; unless the last handle is dropped by work on the
            // thread itself, which must not wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// When a caller gets its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Once the group's commit is on disk: what the caller acknowledges survives any crash.
    AfterSync,
    /// As soon as the work has run, before the group commits. Only for writes whose loss in an
    /// operating-system crash redoes work and loses none (a queue receive or delete: the message
    /// comes back, as SQS may always do). Commits reach the disk in order, so such a write never
    /// survives without what its caller wrote before it.
    BeforeSync,
}

/// A caller's work, queued for the connection's thread.
trait Job: Send {
    /// Runs the work; its result waits in the returned [`Ran`] until the group's fate is known.
    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn Ran>;
    /// Answers without running: the group's transaction could not be started.
    fn refuse(self: Box<Self>, error: StoreError);
}

/// Work that has run, waiting for its group to commit.
trait Ran: Send {
    fn failed(&self) -> bool;
    fn when(&self) -> Answer;
    /// Answers the caller: its own result if the group committed (or if its work failed, which
    /// was rolled back either way), otherwise the group's failure.
    fn answer(self: Box<Self>, group: Result<(), &str>);
}

struct Pending<F, T> {
    work: F,
    when: Answer,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

struct Done<T> {
    result: Result<T, StoreError>,
    when: Answer,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for Pending<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, connection: &Connection) -> Box<dyn Ran> {
        let Pending { work, when, reply } = *self;
        Box::new(Done {
            result: work(connection),
            when,
            reply,
        })
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Send + 'static> Ran for Done<T> {
    fn failed(&self) -> bool {
        self.result.is_err()
    }

    fn when(&self) -> Answer {
        self.when
    }

    fn answer(self: Box<Self>, group: Result<(), &str>) {
        let result = match group {
            Err(message) if self.result.is_ok() => Err(StoreError::Unavailable(message.into())),
            _ => self.result,
        };
        let _ = self.reply.send(result);
    }
}

fn commit_group(connection: &Connection, group: Vec<Box<dyn Job>>, groups: &AtomicU64) {
    if let Err(e) = connection.execute_batch("BEGIN IMMEDIATE") {
        let message = format!("cannot start a transaction: {}", sqlite_error(e));
        for job in group {
            job.refuse(StoreError::Unavailable(message.clone()));
        }
        return;
    }
    let changes_before = connection.total_changes();
    let mut waiting: Vec<Box<dyn Ran>> = Vec::with_capacity(group.len());
    let mut jobs = group.into_iter();
    while let Some(job) = jobs.next() {
        if let Err(e) = connection.execute_batch("SAVEPOINT job") {
            job.refuse(sqlite_error(e));
            continue;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(connection)));
        let keep = matches!(&ran, Ok(done) if !done.failed());
        let closed = connection.execute_batch(if keep {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        });
        if connection.is_autocommit() || closed.is_err() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk) or the
            // savepoint could not be closed: nothing of this group is written. Tell those that
            // ran, and give the rest a transaction of their own.
            if !connection.is_autocommit() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            let message = match closed {
                Err(e) => format!("the transaction was rolled back: {}", sqlite_error(e)),
                Ok(()) => "the transaction was rolled back by an error in the same group".into(),
            };
            for done in waiting.into_iter().chain(ran.ok()) {
                done.answer(Err(&message));
            }
            let rest: Vec<_> = jobs.collect();
            if !rest.is_empty() {
                commit_group(connection, rest, groups);
            }
            return;
        }
        match ran {
            Ok(done) if done.when() == Answer::BeforeSync => done.answer(Ok(())),
            // Nothing in this group has written yet: this work saw only committed data and
            // wrote nothing, so its answer need not wait for the fsync.
            Ok(done) if connection.total_changes() == changes_before => done.answer(Ok(())),
            Ok(done) => waiting.push(done),
            // Its caller learns of the panic from the reply channel it dropped.
            Err(_) => {}
        }
    }
    let committed = connection.execute_batch("COMMIT").map_err(|e| {
        if !connection.is_autocommit() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        format!("the transaction did not commit: {}", sqlite_error(e))
    });
    if committed.is_ok() {
        groups.fetch_add(1, Ordering::Relaxed);
    }
    for done in waiting {
        done.answer(committed.as_ref().map(|_| ()).map_err(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use rusqlite::{params, OptionalExtension};

    use super::super::database::{sqlite_error, Database};
    use crate::ports::StoreError;

    type Write = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

    fn key_written(i: usize) -> impl FnOnce(&rusqlite::Connection) -> Result<(), StoreError> {
        move |c| {
            c.execute(
                "INSERT INTO dedup_keys (key, expires_at) VALUES (?1, 1)",
                params![format!("writer-{i}")],
            )
            .map_err(sqlite_error)?;
            Ok(())
        }
    }

    #[tokio::test]
    async fn concurrent_writers_share_one_commit_and_a_failing_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("casb.db")).unwrap();
        let groups_before = db.groups_committed();
        // The first job holds the connection's thread until every writer is queued behind it,
        // so that they meet in one group whatever the scheduling.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let mut writes: Vec<Write> = vec![Box::pin({
            let db = db.clone();
            async move {
                db.run(move |_| {
                    let _ = gate.recv();
                    Ok(())
                })
                .await
            }
        })];
        const WRITERS: usize = 40;
        const CONSTRAINT: usize = 7;
        const PANIC: usize = 23;
        for i in 0..WRITERS {
            let db = db.clone();
            writes.push(Box::pin(async move {
                match i {
                    // Writes its key, then breaks a NOT NULL constraint: its key must go too.
                    CONSTRAINT => {
                        db.run(move |c| {
                            key_written(i)(c)?;
                            c.execute(
                                "INSERT INTO queue_messages (message_id, queue, body, sent_at, visible_at)
                                 VALUES ('m', 'q', NULL, 0, 0)",
                                [],
                            )
                            .map_err(sqlite_error)?;
                            Ok(())
                        })
                        .await
                    }
                    PANIC => {
                        db.run(move |c| {
                            key_written(i)(c)?;
                            panic!("a writer that panics after writing");
                        })
                        .await
                    }
                    _ => db.run(key_written(i)).await,
                }
            }));
        }
        let mut all = Box::pin(futures::future::join_all(writes));
        // The first poll queues every job; the gate holds them until released.
        assert!(futures::poll!(&mut all).is_pending());
        release.send(()).unwrap();
        let results = all.await;
        // The gate's group, then one group for all the writers (or a single group, if they were
        // queued before the thread took the gate).
        let groups = db.groups_committed() - groups_before;
        assert!(
            groups <= 2,
            "{WRITERS} queued writers took {groups} commits"
        );

        assert!(results[0].is_ok(), "the gate");
        for (i, result) in results[1..].iter().enumerate() {
            match i {
                CONSTRAINT => assert!(
                    matches!(result, Err(StoreError::Unavailable(m)) if m.contains("NOT NULL")),
                    "{result:?}"
                ),
                PANIC => assert!(result.is_err(), "the panicking writer is told it failed"),
                _ => assert!(result.is_ok(), "writer {i}: {result:?}"),
            }
        }
        let stored = db
            .run(|c| {
                let mut statement = c
                    .prepare("SELECT key FROM dedup_keys ORDER BY key")
                    .map_err(sqlite_error)?;
                let keys = statement
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(sqlite_error)?;
                keys.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
            })
            .await
            .unwrap();
        let mut expected: Vec<String> = (0..WRITERS)
            .filter(|i| *i != CONSTRAINT && *i != PANIC)
            .map(|i| format!("writer-{i}"))
            .collect();
        expected.sort();
        assert_eq!(
            stored, expected,
            "every other writer's key, and only theirs"
        );
        let orphan: Option<String> = db
            .run(|c| {
                c.query_row("SELECT message_id FROM queue_messages", [], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(sqlite_error)
            })
            .await
            .unwrap();
        assert_eq!(orphan, None);
    }

    #[tokio::test]
    async fn work_that_fails_keeps_none_of_its_writes_even_alone() {
        let db = Database::in_memory().unwrap();
        let failed = db
            .run(|c| {
                key_written(1)(c)?;
                Err::<(), _>(StoreError::Conflict {
                    what: "test".into(),
                })
            })
            .await;
        assert!(matches!(failed, Err(StoreError::Conflict { .. })));
        let count: i64 = db
            .run(|c| {
                c.query_row("SELECT COUNT(*) FROM dedup_keys", [], |row| row.get(0))
                    .map_err(sqlite_error)
            })
            .await
            .unwrap();
        assert_eq!(count, 0);
    }
}
