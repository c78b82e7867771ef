//! The simulated network and clock: one queue of deliveries and timers
//! ordered by (time, sequence number), so that ties break the same way in
//! every replay.
//!
//! Its faults are the ones the real transports have. A connection (an
//! agent's gRPC stream, a framework's subscription stream) is FIFO and
//! loses nothing until it breaks; then whatever is still in flight on it is
//! gone, and both ends learn of it later. HTTP requests (scheduler calls)
//! travel alone: they are delayed independently (so they overtake each
//! other and the event stream), dropped, and, as a client that retries
//! would, duplicated. A partitioned agent's connection stalls: nothing
//! moves until the partition heals, and then it either carries on or
//! breaks.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use meseta_proto::cluster::{AgentMessage, MasterMessage};
use meseta_proto::scheduler::{Call, Event};

use crate::rng::SimRng;

/// A process of the simulated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// The master (one at a time; a restart is a failover to a master that
    /// reads the same registry).
    Master,
    /// Agent `i`.
    Agent(usize),
    /// Framework (scheduler) `i`.
    Framework(usize),
}

/// What travels between nodes.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // moved once from sender to receiver
pub enum Payload {
    /// SUBSCRIBE, opening the connection it travels on.
    Subscribe(Call),
    /// Another scheduler call: an HTTP request of its own.
    Call { call: Call, stream_id: String },
    /// The `200 OK` of a SUBSCRIBE, with its `Mesos-Stream-Id`.
    StreamOpened { stream_id: String },
    /// An event on a subscription stream.
    Event(Event),
    /// An agent opens its stream with this first message.
    Attach(AgentMessage),
    /// A later message from an agent.
    FromAgent(AgentMessage),
    /// A message to an agent.
    ToAgent(MasterMessage),
    /// The connection ended (or, answering an opening message, no master
    /// was there to take it).
    Closed,
}

/// A timer a node set for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The master's periodic work (allocation, pings, timeouts).
    MasterTick,
    /// A node's own periodic check (retries, liveness, reconnecting).
    Wake,
    /// A crashed node starts again.
    Restart,
    /// The world's next fault.
    Fault,
    /// A partition of this agent heals.
    Heal,
}

/// A delivery or a timer, due at a time.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // queued once, moved once
pub enum Item {
    /// A message arrives at `to`.
    Deliver {
        from: Node,
        to: Node,
        conn: Option<u64>,
        payload: Payload,
    },
    /// A timer fires at `node`.
    Fire { node: Node, timer: Timer },
}

#[derive(Debug)]
struct Scheduled {
    at: Duration,
    seq: u64,
    item: Item,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug)]
struct Connection {
    open: bool,
    /// Nothing sent later on it arrives before this (FIFO).
    last_arrival: Duration,
    /// The agent at one end, if any (partitions stall its connections).
    agent: Option<usize>,
    /// Deliveries stalled by a partition, in order.
    held: Vec<Item>,
}

/// How unreliable the network is.
#[derive(Debug, Clone)]
pub struct NetworkFaults {
    /// A request is lost with this probability.
    pub drop_request: f64,
    /// A request arrives twice with this probability.
    pub duplicate_request: f64,
    /// A message takes a slow path (up to a second) with this probability.
    pub slow: f64,
}

/// The queue, the connections, and the partitions.
pub struct Net {
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    next_conn: u64,
    connections: BTreeMap<u64, Connection>,
    partitions: BTreeMap<usize, Duration>,
    faults: NetworkFaults,
    /// Messages sent and dropped, for the report.
    pub sent: u64,
    /// Messages lost to drops and broken connections.
    pub lost: u64,
}

impl Net {
    /// An empty network.
    pub fn new(faults: NetworkFaults) -> Self {
        Self {
            queue: BinaryHeap::new(),
            seq: 0,
            next_conn: 1,
            connections: BTreeMap::new(),
            partitions: BTreeMap::new(),
            faults,
            sent: 0,
            lost: 0,
        }
    }

    /// Sets the faults (none while the run settles at its end).
    pub fn set_faults(&mut self, faults: NetworkFaults) {
        self.faults = faults;
    }

    fn push(&mut self, at: Duration, item: Item) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// The next item and its time.
    pub fn pop(&mut self) -> Option<(Duration, Item)> {
        let Reverse(next) = self.queue.pop()?;
        Some((next.at, next.item))
    }

    /// Sets a timer.
    pub fn timer(&mut self, at: Duration, node: Node, timer: Timer) {
        self.push(at, Item::Fire { node, timer });
    }

    fn latency(&mut self, rng: &mut SimRng) -> Duration {
        if rng.chance(self.faults.slow) {
            rng.millis(100, 1000)
        } else {
            rng.millis(1, 20)
        }
    }

    /// Opens a connection from `from` to `to`, sending `payload` (the
    /// opening message) on it; returns its ID.
    pub fn connect(
        &mut self,
        now: Duration,
        rng: &mut SimRng,
        from: Node,
        to: Node,
        payload: Payload,
    ) -> u64 {
        let conn = self.next_conn;
        self.next_conn += 1;
        let agent = [from, to].into_iter().find_map(|n| match n {
            Node::Agent(i) => Some(i),
            _ => None,
        });
        self.connections.insert(
            conn,
            Connection {
                open: true,
                last_arrival: now,
                agent,
                held: Vec::new(),
            },
        );
        self.send(now, rng, conn, from, to, payload);
        conn
    }

    /// Sends on an open connection (dropped if it is closed).
    pub fn send(
        &mut self,
        now: Duration,
        rng: &mut SimRng,
        conn: u64,
        from: Node,
        to: Node,
        payload: Payload,
    ) {
        self.sent += 1;
        let latency = self.latency(rng);
        let Some(connection) = self.connections.get_mut(&conn).filter(|c| c.open) else {
            self.lost += 1;
            return;
        };
        let at = (now + latency).max(connection.last_arrival);
        connection.last_arrival = at;
        self.push(
            at,
            Item::Deliver {
                from,
                to,
                conn: Some(conn),
                payload,
            },
        );
    }

    /// Sends an HTTP request of its own: maybe lost, maybe twice.
    pub fn request(
        &mut self,
        now: Duration,
        rng: &mut SimRng,
        from: Node,
        to: Node,
        payload: Payload,
    ) {
        self.sent += 1;
        if rng.chance(self.faults.drop_request) {
            self.lost += 1;
            return;
        }
        let copies = if rng.chance(self.faults.duplicate_request) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = now + self.latency(rng);
            let payload = payload.clone();
            self.push(
                at,
                Item::Deliver {
                    from,
                    to,
                    conn: None,
                    payload,
                },
            );
        }
    }

    /// Breaks a connection: what is in flight on it is lost, and each of
    /// `tell` learns of it (a little later).
    pub fn close(&mut self, now: Duration, rng: &mut SimRng, conn: u64, from: Node, tell: &[Node]) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        if !connection.open {
            return;
        }
        connection.open = false;
        self.lost += connection.held.len() as u64;
        connection.held.clear();
        connection.last_arrival = connection.last_arrival.max(now + Duration::from_millis(50));
        for &to in tell {
            let at = now + rng.millis(1, 50);
            self.push(
                at,
                Item::Deliver {
                    from,
                    to,
                    conn: Some(conn),
                    payload: Payload::Closed,
                },
            );
        }
    }

    /// Whether a connection is open.
    pub fn is_open(&self, conn: u64) -> bool {
        self.connections.get(&conn).is_some_and(|c| c.open)
    }

    /// Checks a popped delivery: `None` when it is lost (its connection
    /// broke) or held back by a partition (see [`Net::release`]).
    pub fn admit(&mut self, now: Duration, item: Item) -> Option<Item> {
        let Item::Deliver {
            conn: Some(conn),
            payload,
            ..
        } = &item
        else {
            return Some(item);
        };
        let partitioned = |agent: Option<usize>| {
            agent.is_some_and(|a| self.partitions.get(&a).is_some_and(|heal| *heal > now))
        };
        let connection = self.connections.get(conn)?;
        let hold = partitioned(connection.agent) || !connection.held.is_empty();
        if matches!(payload, Payload::Closed) {
            return Some(item);
        }
        if !connection.open {
            self.lost += 1;
            return None;
        }
        if hold {
            let conn = *conn;
            if let Some(connection) = self.connections.get_mut(&conn) {
                connection.held.push(item);
            }
            return None;
        }
        Some(item)
    }

    /// A partition of `agent` healed: the deliveries it held, in order, to
    /// be delivered now (or, with `break_them`, its connections break).
    pub fn release(
        &mut self,
        now: Duration,
        rng: &mut SimRng,
        agent: usize,
        break_them: bool,
    ) -> Vec<Item> {
        self.partitions.remove(&agent);
        let conns = self.agent_connections(agent);
        let mut out = Vec::new();
        for conn in conns {
            if break_them {
                let ends = self.ends_of(conn);
                self.close(now, rng, conn, Node::Agent(agent), &ends);
            } else if let Some(connection) = self.connections.get_mut(&conn) {
                out.append(&mut connection.held);
            }
        }
        out
    }

    /// Both ends of a connection: the agent and the master (only agents'
    /// connections are partitioned).
    fn ends_of(&self, conn: u64) -> Vec<Node> {
        match self.connections.get(&conn).and_then(|c| c.agent) {
            Some(agent) => vec![Node::Master, Node::Agent(agent)],
            None => Vec::new(),
        }
    }

    /// Partitions `agent` from everyone until `heal`.
    pub fn partition(&mut self, agent: usize, heal: Duration) {
        self.partitions.insert(agent, heal);
        self.timer(heal, Node::Agent(agent), Timer::Heal);
    }

    /// Whether `agent` is partitioned at `now`.
    pub fn partitioned(&self, agent: usize, now: Duration) -> bool {
        self.partitions.get(&agent).is_some_and(|heal| *heal > now)
    }

    /// The open connections touching `agent`.
    pub fn agent_connections(&self, agent: usize) -> Vec<u64> {
        self.connections
            .iter()
            .filter(|(_, c)| c.open && c.agent == Some(agent))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets closed connections whose deliveries are all done (keeps the
    /// map small in long runs).
    pub fn forget_closed(&mut self, now: Duration) {
        self.connections
            .retain(|_, c| c.open || c.last_arrival + Duration::from_secs(5) > now);
    }
}
