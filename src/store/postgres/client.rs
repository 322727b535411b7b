//! A blocking PostgreSQL client (tokio-postgres on a runtime of its own, as the `postgres`
//! crate does it) that can also pipeline: several statements sent at once and their answers
//! read in one round trip, which is how a transaction's writes travel with its next read or
//! with its `COMMIT`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::runtime::Runtime;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Config, Error, Row, SimpleQueryMessage, Statement, ToStatement};
use tokio_postgres_rustls::MakeRustlsConnect;

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Why a connection could not be made.
pub(super) enum ConnectFailure {
    /// No runtime for the connection (out of threads or file descriptors).
    Runtime(std::io::Error),
    Postgres(Error),
}

/// One statement waiting to be sent with the next one that must be answered.
pub(super) enum Step {
    /// A simple-query batch (`BEGIN …`, `COMMIT`); its answer is the first column of its last
    /// row, if any.
    Simple(String),
    /// A prepared statement with its parameters already encoded.
    Prepared(Statement, Vec<Encoded>),
}

impl Step {
    /// `statement` with `params` encoded now, to be sent later.
    pub(super) fn prepared(statement: Statement, params: Params<'_>) -> Result<Step, String> {
        if statement.params().len() != params.len() {
            return Err(format!(
                "a statement expects {} parameters, {} given",
                statement.params().len(),
                params.len()
            ));
        }
        let encoded = params
            .iter()
            .zip(statement.params())
            .map(|(param, ty)| {
                let mut buffer = BytesMut::new();
                match param.to_sql_checked(ty, &mut buffer) {
                    Ok(IsNull::Yes) => Ok(Encoded(None)),
                    Ok(IsNull::No) => Ok(Encoded(Some(buffer.to_vec()))),
                    Err(e) => Err(format!("a parameter of type {ty} cannot be encoded: {e}")),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Step::Prepared(statement, encoded))
    }
}

/// A parameter in its binary wire form (`None`: NULL), checked against its type when encoded.
#[derive(Debug)]
pub(super) struct Encoded(Option<Vec<u8>>);

impl ToSql for Encoded {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The first failure of a pipeline, and whether the server answered it (a statement the
/// server refused) or the connection failed before an answer came.
pub(super) struct PipelineError {
    pub(super) error: Error,
    pub(super) answered: bool,
}

/// The answers of a pipeline.
pub(super) struct Answers {
    /// The answer of each simple-query step, in order.
    pub(super) simple: Vec<Option<String>>,
    /// The rows of the last statement.
    pub(super) rows: Vec<Row>,
}

/// What one step of a pipeline answers.
pub(super) enum Answer {
    /// A simple-query step: the first column of its last row, if any.
    Simple(Option<String>),
    /// A prepared statement: its rows.
    Rows(Vec<Row>),
}

/// A blocking client on one connection.
///
/// The runtime is a current-thread one and every call is `block_on` on the calling thread: the
/// connection's task runs on that thread while the call waits, so a round trip costs no thread
/// hop, only the socket's write and read.
pub(super) struct PgClient {
    runtime: Runtime,
    client: tokio_postgres::Client,
    /// Round trips made, shared with the backend (every call that waits for the server is one).
    round_trips: Arc<AtomicU64>,
}

impl PgClient {
    /// Connects; the connection is driven by the client's runtime while a call waits.
    pub(super) fn connect(
        config: &Config,
        tls: MakeRustlsConnect,
        round_trips: Arc<AtomicU64>,
    ) -> Result<PgClient, ConnectFailure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ConnectFailure::Runtime)?;
        let (client, connection) = runtime
            .block_on(config.connect(tls))
            .map_err(ConnectFailure::Postgres)?;
        runtime.spawn(async move {
            // the error, if any, reaches the next call as a closed connection
            let _ = connection.await;
        });
        Ok(PgClient {
            runtime,
            client,
            round_trips,
        })
    }

    /// Waits for `future` on this thread, counting one round trip.
    fn wait<F: Future>(&self, future: F) -> F::Output {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.runtime.block_on(future)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(super) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.wait(self.client.batch_execute(sql))
    }

    pub(super) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        self.wait(self.client.prepare(sql))
    }

    pub(super) fn query<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        self.wait(self.client.query(query, params))
    }

    pub(super) fn query_one<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Row, Error> {
        self.wait(self.client.query_one(query, params))
    }

    pub(super) fn query_opt<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.wait(self.client.query_opt(query, params))
    }

    pub(super) fn execute<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<u64, Error> {
        self.wait(self.client.execute(query, params))
    }

    /// A transaction that rolls back unless committed.
    pub(super) fn transaction(&mut self) -> Result<PgClientTransaction<'_>, Error> {
        self.transaction_as("BEGIN")
    }

    /// A transaction started by `begin` (`BEGIN ISOLATION LEVEL …`), rolled back unless
    /// committed.
    pub(super) fn transaction_as(&mut self, begin: &str) -> Result<PgClientTransaction<'_>, Error> {
        self.batch_execute(begin)?;
        Ok(PgClientTransaction {
            client: self,
            done: false,
        })
    }

    /// Sends `steps` and then `last` together and waits for every answer, or the first
    /// failure. The server runs them in order; after a failure inside a transaction block it
    /// refuses the rest.
    pub(super) fn pipeline(
        &mut self,
        steps: &[Step],
        last: Option<(&Statement, Params<'_>)>,
    ) -> Result<Answers, PipelineError> {
        let mut out = Answers {
            simple: Vec::new(),
            rows: Vec::new(),
        };
        for result in self.pipeline_each(steps, last) {
            match result {
                Ok(Answer::Simple(text)) => out.simple.push(text),
                Ok(Answer::Rows(rows)) => out.rows = rows,
                Err(error) => return Err(error),
            }
        }
        Ok(out)
    }

    /// Sends `steps` and then `last` together, in one round trip, and returns the answer of
    /// each, in order (`last` last). The server runs them in order; after a failure inside a
    /// transaction block it refuses the rest, so what follows a failed step fails too.
    pub(super) fn pipeline_each(
        &mut self,
        steps: &[Step],
        last: Option<(&Statement, Params<'_>)>,
    ) -> Vec<Result<Answer, PipelineError>> {
        type Pending<'f> = Pin<Box<dyn Future<Output = Result<Answer, Error>> + 'f>>;
        let client = &self.client;
        let encoded: Vec<Vec<&(dyn ToSql + Sync)>> = steps
            .iter()
            .map(|step| match step {
                Step::Prepared(_, params) => {
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
                }
                Step::Simple(_) => Vec::new(),
            })
            .collect();
        let mut answers: Vec<Pending<'_>> = steps
            .iter()
            .zip(&encoded)
            .map(|(step, params)| -> Pending<'_> {
                match step {
                    Step::Simple(sql) => Box::pin(async move {
                        let messages = client.simple_query(sql).await?;
                        let last = messages.iter().rev().find_map(|message| match message {
                            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
                            _ => None,
                        });
                        Ok(Answer::Simple(last.flatten()))
                    }),
                    Step::Prepared(statement, _) => {
                        Box::pin(
                            async move { client.query(statement, params).await.map(Answer::Rows) },
                        )
                    }
                }
            })
            .collect();
        if let Some((statement, params)) = last {
            answers.push(Box::pin(async move {
                client.query(statement, params).await.map(Answer::Rows)
            }));
        }
        // polled together, every request is sent before the first answer is awaited
        self.wait(futures_util::future::join_all(answers))
            .into_iter()
            .map(|result| {
                result.map_err(|error| PipelineError {
                    answered: error.as_db_error().is_some(),
                    error,
                })
            })
            .collect()
    }
}

/// A transaction of [`PgClient::transaction`].
pub(super) struct PgClientTransaction<'c> {
    client: &'c mut PgClient,
    done: bool,
}

impl PgClientTransaction<'_> {
    pub(super) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql)
    }

    pub(super) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        self.client.prepare(sql)
    }

    pub(super) fn query<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        self.client.query(query, params)
    }

    pub(super) fn query_one<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<Row, Error> {
        self.client.query_one(query, params)
    }

    pub(super) fn execute<T: ?Sized + ToStatement>(
        &mut self,
        query: &T,
        params: Params<'_>,
    ) -> Result<u64, Error> {
        self.client.execute(query, params)
    }

    pub(super) fn commit(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.batch_execute("COMMIT")
    }

    pub(super) fn rollback(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.batch_execute("ROLLBACK")
    }
}

impl Drop for PgClientTransaction<'_> {
    fn drop(&mut self) {
        if !self.done && !self.client.is_closed() {
            // a failure here means the connection is gone, which ends the transaction too
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}
