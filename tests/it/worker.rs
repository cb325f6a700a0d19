//! The shared consume loop against a real nats-server: batches overlap up to the in-flight
//! limit, and every message is settled by its own batch's outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::Message;
use newswire_shared::Subjects;
use newswire_shared::nats::StreamKind;
use newswire_shared::shutdown;
use newswire_shared::worker::{
    ConsumeFrom, ConsumerOptions, Finish, Handler, Outcome, StageConnection, WorkerSettings,
};
use newswire_tests::{TestNats, consumer_info, wait_for};
use tokio::sync::Notify;

/// Acks every batch, but the first batch's acks wait until a second batch has been started:
/// with room for two batches in flight that happens, with room for one it never does.
struct FirstWaitsForSecond {
    started: Arc<Mutex<Vec<usize>>>,
    second_started: Arc<Notify>,
    /// Batches started and not yet finished, and the most seen at once.
    open: Arc<Mutex<(usize, usize)>>,
}

impl Handler for FirstWaitsForSecond {
    async fn start(&mut self, batch: &[Message]) -> Finish {
        let ordinal = {
            let mut started = self.started.lock().expect("lock");
            started.push(batch.len());
            started.len()
        };
        {
            let mut open = self.open.lock().expect("lock");
            open.0 += 1;
            open.1 = open.1.max(open.0);
        }
        if ordinal == 2 {
            self.second_started.notify_one();
        }
        let outcomes: Vec<Outcome> = batch
            .iter()
            .map(|m| Outcome::ack(String::from_utf8_lossy(&m.payload).into_owned()))
            .collect();
        let second_started = Arc::clone(&self.second_started);
        let open = Arc::clone(&self.open);
        Box::pin(async move {
            if ordinal == 1 {
                second_started.notified().await;
            }
            open.lock().expect("lock").0 -= 1;
            outcomes
        })
    }
}

struct Run {
    acked: u64,
    batches: Vec<usize>,
    most_open: usize,
}

/// A stage connection to a fresh server whose raw stream holds `n` messages, consumed in
/// batches of at most `max_batch` with `in_flight` batches at once.
async fn stage_with_messages(
    n: usize,
    max_batch: usize,
    in_flight: usize,
) -> (TestNats, StageConnection, WorkerSettings, Subjects, Context) {
    stage_with_options(n, max_batch, in_flight, |_| {}).await
}

/// [`stage_with_messages`] with more of the consumer's options set by `configure`.
async fn stage_with_options(
    n: usize,
    max_batch: usize,
    in_flight: usize,
    configure: impl FnOnce(&mut ConsumerOptions),
) -> (TestNats, StageConnection, WorkerSettings, Subjects, Context) {
    let nats = TestNats::start().await;
    let args = nats.args();
    let subjects = args.subjects().expect("prefix");
    let mut options = ConsumerOptions::new("worker-test");
    options.worker.max_batch = max_batch;
    options.worker.pull_batch = 2 * max_batch;
    options.worker.in_flight = in_flight;
    configure(&mut options);
    let connection = StageConnection::open(
        "worker-test",
        &args,
        &ConsumeFrom {
            input: StreamKind::Raw,
            streams: vec![StreamKind::Raw, StreamKind::DeadLetter],
            options: options.clone(),
        },
    )
    .await
    .expect("consumer ready");
    let js = nats.jetstream().await;
    let mut acks = Vec::new();
    for k in 0..n {
        acks.push(
            js.publish(subjects.raw(Some("a")), format!("m{k}").into())
                .await
                .expect("published"),
        );
    }
    for ack in acks {
        ack.await.expect("acknowledged");
    }
    (nats, connection, options.worker, subjects, js)
}

/// Publishes `n` raw messages, serves them with `in_flight` batches of at most 10 in flight
/// for up to `within`, and reports what the consumer acknowledged.
async fn serve(in_flight: usize, n: usize, within: Duration) -> Run {
    let (_nats, connection, worker, subjects, js) = stage_with_messages(n, 10, in_flight).await;
    let started = Arc::new(Mutex::new(Vec::new()));
    let open = Arc::new(Mutex::new((0, 0)));
    let handler = FirstWaitsForSecond {
        started: Arc::clone(&started),
        second_started: Arc::new(Notify::new()),
        open: Arc::clone(&open),
    };
    let (trigger, stop) = shutdown::channel();
    let mut task = tokio::spawn(connection.serve(handler, worker, stop.wait()));
    let stream = subjects.raw_stream();
    let deadline = tokio::time::Instant::now() + within;
    let mut acked = 0;
    while tokio::time::Instant::now() < deadline {
        acked = consumer_info(&js, &stream, "worker-test")
            .await
            .map_or(0, |i| i.ack_floor.stream_sequence);
        if acked >= n as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    trigger.trigger();
    // A batch waiting forever (in_flight 1) is not finished by shutdown: stop the task.
    if tokio::time::timeout(Duration::from_secs(5), &mut task)
        .await
        .is_err()
    {
        task.abort();
    }
    let batches = started.lock().expect("lock").clone();
    let most_open = open.lock().expect("lock").1;
    Run {
        acked,
        batches,
        most_open,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_batch_starts_while_the_previous_one_waits() {
    let run = serve(2, 50, Duration::from_secs(20)).await;
    assert_eq!(
        run.acked, 50,
        "every message acked, in batches {:?}",
        run.batches
    );
    assert_eq!(run.most_open, 2, "two batches in flight at once");
    assert!(run.batches.iter().all(|&b| b <= 10), "{:?}", run.batches);
    assert_eq!(run.batches.iter().sum::<usize>(), 50, "{:?}", run.batches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_in_flight_waits_for_it_before_starting_the_next() {
    let run = serve(1, 30, Duration::from_secs(3)).await;
    assert_eq!(
        run.batches.len(),
        1,
        "no second batch while the first is open"
    );
    assert_eq!(run.most_open, 1);
    assert_eq!(
        run.acked, 0,
        "the first batch never finished, nothing acked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_settles_the_batches_in_flight() {
    // Shutdown while a batch is started but not finished: it is finished and acked before
    // the loop returns, and what was pulled but not started is left for redelivery. Batches
    // of two, one at a time, four pulled ahead: some are always left.
    let (_nats, connection, worker, subjects, js) = stage_with_messages(10, 2, 1).await;
    // Every started batch waits for the release; `started` counts their messages.
    let (release, released) = tokio::sync::watch::channel(false);
    let started = Arc::new(Mutex::new(0usize));
    let first_started = Arc::new(Notify::new());
    struct Slow {
        released: tokio::sync::watch::Receiver<bool>,
        started: Arc<Mutex<usize>>,
        first_started: Arc<Notify>,
    }
    impl Handler for Slow {
        async fn start(&mut self, batch: &[Message]) -> Finish {
            let outcomes: Vec<Outcome> = batch.iter().map(|_| Outcome::ack("x")).collect();
            *self.started.lock().expect("lock") += batch.len();
            self.first_started.notify_one();
            let mut released = self.released.clone();
            Box::pin(async move {
                let _ = released.wait_for(|r| *r).await;
                outcomes
            })
        }
    }
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(
        Slow {
            released,
            started: Arc::clone(&started),
            first_started: Arc::clone(&first_started),
        },
        worker,
        stop.wait(),
    ));
    tokio::time::timeout(Duration::from_secs(10), first_started.notified())
        .await
        .expect("a batch started");
    trigger.trigger();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !task.is_finished(),
        "the loop waits for the batches in flight"
    );
    let started = *started.lock().expect("lock");
    assert!((1..=2).contains(&started), "{started} messages started");
    release.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop returns once its batches are settled")
        .expect("the loop's task ends without panicking");
    // The started messages (the stream's first ones) are acked; the rest wait for redelivery.
    let stream = subjects.raw_stream();
    let info = wait_for("the batches' acks", Duration::from_secs(10), || async {
        let info = consumer_info(&js, &stream, "worker-test").await?;
        (info.ack_floor.stream_sequence == started as u64).then_some(info)
    })
    .await;
    let pulled = info.delivered.stream_sequence as usize;
    assert!(pulled > started, "{pulled} pulled, {started} started");
    assert_eq!(info.num_ack_pending as usize, pulled - started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_batch_in_flight_once_the_ack_wait_has_passed() {
    // A batch that never finishes (its store or broker is away): the stopping loop waits for it
    // no longer than the consumer's ack wait, after which the server redelivers its messages
    // anyway, and returns without acking them.
    let (_nats, connection, worker, subjects, js) =
        stage_with_options(4, 2, 1, |o| o.ack_wait = Duration::from_secs(2)).await;
    struct Never {
        started: Arc<Notify>,
    }
    impl Handler for Never {
        async fn start(&mut self, _batch: &[Message]) -> Finish {
            self.started.notify_one();
            Box::pin(std::future::pending())
        }
    }
    let started = Arc::new(Notify::new());
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(
        Never {
            started: Arc::clone(&started),
        },
        worker,
        stop.wait(),
    ));
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("a batch started");
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the loop returns once the grace has passed")
        .expect("the loop's task ends without panicking");
    let info = consumer_info(&js, &subjects.raw_stream(), "worker-test")
        .await
        .expect("consumer info");
    assert_eq!(info.ack_floor.stream_sequence, 0, "nothing acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_starting_a_batch_redelivers_it_and_the_loop_goes_on() {
    // A defect met by the first batch: its messages are nak'ed and come back, the stage
    // carries on, and the next start acks them.
    let (_nats, connection, worker, subjects, js) = stage_with_messages(3, 10, 1).await;
    struct PanicsFirst {
        starts: Arc<Mutex<usize>>,
    }
    impl Handler for PanicsFirst {
        async fn start(&mut self, batch: &[Message]) -> Finish {
            let starts = {
                let mut starts = self.starts.lock().expect("lock");
                *starts += 1;
                *starts
            };
            if starts == 1 {
                panic!("a defect met by the first batch");
            }
            let outcomes: Vec<Outcome> = batch.iter().map(|_| Outcome::ack("x")).collect();
            Box::pin(async move { outcomes })
        }
    }
    let starts = Arc::new(Mutex::new(0));
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(
        PanicsFirst {
            starts: Arc::clone(&starts),
        },
        worker,
        stop.wait(),
    ));
    stop_once_acked(&js, &subjects.raw_stream(), 3, trigger, task).await;
    assert!(*starts.lock().expect("lock") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_more_often_than_allowed_without_being_settled_is_dead_lettered() {
    // The stage holding it dies on it at every try (here: its batch never finishes, and the
    // server redelivers it after the ack wait). Past the stage's max_deliver it is
    // dead-lettered without another try, not delivered until the server drops it.
    let (_nats, connection, worker, subjects, js) = stage_with_options(1, 10, 2, |o| {
        o.ack_wait = Duration::from_secs(1);
        o.max_deliver = 1;
    })
    .await;
    struct Hangs;
    impl Handler for Hangs {
        async fn start(&mut self, _batch: &[Message]) -> Finish {
            Box::pin(std::future::pending())
        }
    }
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(Hangs, worker, stop.wait()));
    let dlq = subjects.dlq_stream();
    let letter = wait_for("the dead letter", Duration::from_secs(20), || {
        let js = js.clone();
        let dlq = dlq.clone();
        async move {
            let stream = js.get_stream(&dlq).await.ok()?;
            stream.get_raw_message(1).await.ok()
        }
    })
    .await;
    let reason = letter
        .headers
        .get(newswire_shared::nats::dlq_headers::ERROR)
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(
        reason.starts_with("delivered 2 times without being settled"),
        "{reason}"
    );
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops after its grace")
        .expect("the loop's task ends without panicking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_settled_in_the_order_they_started() {
    // The second batch finishes while the first still waits: its acks wait too.
    let (_nats, connection, worker, subjects, js) = stage_with_messages(20, 5, 2).await;
    struct FirstHeld {
        batches: usize,
        released: tokio::sync::watch::Receiver<bool>,
        second_finished: Arc<Notify>,
    }
    impl Handler for FirstHeld {
        async fn start(&mut self, batch: &[Message]) -> Finish {
            self.batches += 1;
            let outcomes: Vec<Outcome> = batch.iter().map(|_| Outcome::ack("x")).collect();
            let mut released = self.released.clone();
            let second_finished = Arc::clone(&self.second_finished);
            let ordinal = self.batches;
            Box::pin(async move {
                match ordinal {
                    1 => {
                        let _ = released.wait_for(|r| *r).await;
                    }
                    2 => second_finished.notify_one(),
                    _ => {}
                }
                outcomes
            })
        }
    }
    let (release, released) = tokio::sync::watch::channel(false);
    let second_finished = Arc::new(Notify::new());
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(
        FirstHeld {
            batches: 0,
            released,
            second_finished: Arc::clone(&second_finished),
        },
        worker,
        stop.wait(),
    ));
    tokio::time::timeout(Duration::from_secs(10), second_finished.notified())
        .await
        .expect("a second batch finished");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stream = subjects.raw_stream();
    let info = consumer_info(&js, &stream, "worker-test")
        .await
        .expect("consumer info");
    assert_eq!(
        info.num_ack_pending as u64, info.delivered.stream_sequence,
        "nothing acked while the first batch is open"
    );
    release.send_replace(true);
    stop_once_acked(&js, &stream, 20, trigger, task).await;
}

/// Waits until the first `n` messages of `stream` are acked, then stops the loop `task`.
async fn stop_once_acked(
    js: &Context,
    stream: &str,
    n: u64,
    trigger: shutdown::Trigger,
    task: tokio::task::JoinHandle<()>,
) {
    wait_for("every message acked", Duration::from_secs(20), || async {
        let info = consumer_info(js, stream, "worker-test").await?;
        (info.ack_floor.stream_sequence == n).then_some(())
    })
    .await;
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops")
        .expect("the loop's task ends without panicking");
}

/// Records each batch's size and when it started, and acks it; lingers for `linger`.
struct Lingering {
    linger: Duration,
    batches: Arc<Mutex<Vec<(usize, tokio::time::Instant)>>>,
}

impl Handler for Lingering {
    fn linger(&self, _first: &Message) -> Duration {
        self.linger
    }

    async fn start(&mut self, batch: &[Message]) -> Finish {
        self.batches
            .lock()
            .expect("lock")
            .push((batch.len(), tokio::time::Instant::now()));
        let outcomes: Vec<Outcome> = batch.iter().map(|_| Outcome::ack("x")).collect();
        Box::pin(std::future::ready(outcomes))
    }
}

/// One message, then four more once the worker holds the first (and, without a linger, has
/// started it as a batch), in batches of at most `max_batch`, one at a time: each batch
/// started, its size and how long after the first message's publish it started.
async fn batches_of_a_late_burst(linger: Duration, max_batch: usize) -> Vec<(usize, Duration)> {
    let (_nats, connection, worker, subjects, js) = stage_with_messages(0, max_batch, 1).await;
    let batches = Arc::new(Mutex::new(Vec::new()));
    let (trigger, stop) = shutdown::channel();
    let task = tokio::spawn(connection.serve(
        Lingering {
            linger,
            batches: Arc::clone(&batches),
        },
        worker,
        stop.wait(),
    ));
    let stream = subjects.raw_stream();
    wait_for("the consumer bound", Duration::from_secs(10), || async {
        consumer_info(&js, &stream, "worker-test").await.map(|_| ())
    })
    .await;
    let publish = |k: usize| {
        let js = js.clone();
        let subject = subjects.raw(Some("a"));
        async move {
            js.publish(subject, format!("m{k}").into())
                .await
                .expect("published")
                .await
                .expect("acknowledged");
        }
    };
    let first_published = tokio::time::Instant::now();
    publish(0).await;
    if linger.is_zero() {
        let batches = &batches;
        wait_for("the first batch", Duration::from_secs(10), || async move {
            (!batches.lock().expect("lock").is_empty()).then_some(())
        })
        .await;
    } else {
        wait_for(
            "the first message delivered",
            Duration::from_secs(10),
            || async {
                let info = consumer_info(&js, &stream, "worker-test").await?;
                (info.delivered.stream_sequence == 1).then_some(())
            },
        )
        .await;
    }
    for k in 1..5 {
        publish(k).await;
    }
    stop_once_acked(&js, &stream, 5, trigger, task).await;
    let batches = batches.lock().expect("lock").clone();
    batches
        .into_iter()
        .map(|(size, at)| (size, at - first_published))
        .collect()
}

/// A batch that lingers takes the messages that arrive within its linger, and starts when the
/// linger is over; without a linger the first message is a batch of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_batch_takes_the_messages_that_arrive_within_its_linger() {
    let lingered = batches_of_a_late_burst(Duration::from_secs(1), 10).await;
    assert_eq!(lingered.len(), 1, "{lingered:?}");
    assert_eq!(lingered[0].0, 5, "{lingered:?}");
    assert!(lingered[0].1 >= Duration::from_millis(900), "{lingered:?}");
    let at_once = batches_of_a_late_burst(Duration::ZERO, 10).await;
    assert_eq!(at_once[0].0, 1, "{at_once:?}");
    assert_eq!(at_once.iter().map(|b| b.0).sum::<usize>(), 5, "{at_once:?}");
}

/// A lingering batch starts as soon as it is full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_batch_starts_once_full() {
    let batches = batches_of_a_late_burst(Duration::from_secs(1), 5).await;
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!(batches[0].0, 5, "{batches:?}");
    assert!(batches[0].1 < Duration::from_millis(900), "{batches:?}");
}
