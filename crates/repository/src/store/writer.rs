//! SQLite's one writer: writes wait their turn in the process, not in SQLite's busy handler,
//! and writes that arrive together share one commit.
//!
//! SQLite lets one transaction write at a time. With a pool of writers, each takes
//! `BEGIN IMMEDIATE` and sleeps in the busy handler (sleeps that grow to 100 ms) until the lock
//! is free. Here one task owns the only write connection: it takes the writes queued so far
//! (up to [`BATCH`]), runs each in a savepoint of one transaction, commits once, and only then
//! answers each of them. A write alone is committed at once, without waiting for company; a
//! write that fails rolls back its own savepoint and no other. Durability is the same as one
//! commit per write (`synchronous = FULL`): no write is answered before its commit is on disk.

use sqlx::Connection as _;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use super::dialect::{BoxFuture, Work};
use crate::RepoError;

/// The most writes one commit carries.
const BATCH: usize = 64;

/// Writes that may wait for the writer before senders wait to queue.
const QUEUE: usize = 1024;

/// Hands a write's result to its caller, once the commit's outcome is known.
type Answer = Box<dyn FnOnce(Result<(), RepoError>) + Send>;

/// A write: run on the writer's connection, it says whether it succeeded and how to answer.
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Answer)> + Send>;

enum Message {
    Write(Job),
    /// Finish the queued writes, close the connection, then say so.
    Close(oneshot::Sender<()>),
}

/// The handle to the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
}

fn stopped() -> RepoError {
    RepoError::Unavailable("the SQLite writer stopped before committing this write".into())
}

impl Writer {
    /// Starts the task that owns `connection`.
    pub(crate) fn start(connection: SqliteConnection) -> Self {
        let (queue, inbox) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, inbox));
        Self { queue }
    }

    /// Runs `work` in the next commit; its result once that commit is on disk.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl Work<SqliteConnection, T>,
    ) -> Result<T, RepoError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = work(connection).await;
                let succeeded = outcome.is_ok();
                let answer: Answer = Box::new(move |committed| {
                    // The caller may have gone (a cancelled request): the write stands.
                    let _ = reply.send(committed.and(outcome));
                });
                (succeeded, answer)
            })
        });
        self.queue
            .send(Message::Write(job))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Commits what is queued and closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(mut connection: SqliteConnection, mut inbox: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(message) = inbox.recv().await {
        let mut close = None;
        match message {
            Message::Write(job) => batch.push(job),
            Message::Close(done) => close = Some(done),
        }
        // Whatever else has arrived joins this commit; nothing waits for more.
        while close.is_none() && batch.len() < BATCH {
            match inbox.try_recv() {
                Ok(Message::Write(job)) => batch.push(job),
                Ok(Message::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit(&mut connection, std::mem::take(&mut batch)).await;
        }
        if let Some(done) = close {
            if let Err(error) = connection.close().await {
                tracing::warn!(%error, "closing the SQLite writer failed");
            }
            let _ = done.send(());
            return;
        }
    }
}

/// Runs `jobs` in one transaction, each in its own savepoint when there are several, and
/// answers each once the commit is known. The steps between two jobs go to SQLite as one
/// batch of statements (each is a round trip to sqlx's worker thread). On a failure of the
/// transaction itself it is rolled back and the jobs not yet answered are dropped: their
/// callers hear the writer could not commit them.
async fn commit(connection: &mut SqliteConnection, jobs: Vec<Job>) {
    let shared = jobs.len() > 1;
    let begin = if shared {
        "BEGIN IMMEDIATE; SAVEPOINT write"
    } else {
        "BEGIN IMMEDIATE"
    };
    if let Err(error) = execute(connection, begin).await {
        tracing::warn!(%error, "the SQLite writer could not begin a transaction");
        abandon(connection).await;
        return;
    }
    let mut answers = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    while let Some(job) = jobs.next() {
        let (succeeded, answer) = job(connection).await;
        let last = jobs.peek().is_none();
        let step = match (shared, succeeded, last) {
            (false, true, _) => "COMMIT",
            // Alone and failed: nothing to commit; its own error is its answer.
            (false, false, _) => "ROLLBACK",
            (true, true, false) => "RELEASE write; SAVEPOINT write",
            (true, false, false) => "ROLLBACK TO write; RELEASE write; SAVEPOINT write",
            (true, true, true) => "RELEASE write; COMMIT",
            (true, false, true) => "ROLLBACK TO write; RELEASE write; COMMIT",
        };
        answers.push(answer);
        if let Err(error) = execute(connection, step).await {
            abandon(connection).await;
            let error = error.to_string();
            tracing::warn!(%error, "the SQLite writer could not commit");
            if last {
                for answer in answers {
                    answer(Err(RepoError::Unavailable(error.clone().into())));
                }
            }
            return;
        }
    }
    for answer in answers {
        answer(Ok(()));
    }
}

/// Rolls back whatever the writer's transaction holds, if it is still open.
async fn abandon(connection: &mut SqliteConnection) {
    if let Err(error) = execute(connection, "ROLLBACK").await {
        tracing::debug!(%error, "no transaction to roll back");
    }
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) -> Result<(), RepoError> {
    sqlx::raw_sql(sql).execute(connection).await?;
    Ok(())
}
