//! When each client id in a channel may next have a `typing` passed on: a client types in
//! bursts (every keystroke, in every tab), members need to hear it once every few seconds.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use protocol::ClientId;

#[derive(Debug, Default)]
pub struct TypingTurns {
    /// When each client id's last `typing` was passed on.
    last: HashMap<ClientId, Instant>,
}

impl TypingTurns {
    /// Whether `client`'s `typing` may be passed on at `now`, at most one per `every`; if so,
    /// its turn starts now. Turns long over are forgotten once there are more of them than
    /// `members`, so the map never outgrows the channel.
    pub fn take(
        &mut self,
        client: &ClientId,
        now: Instant,
        every: Duration,
        members: usize,
    ) -> bool {
        if self
            .last
            .get(client)
            .is_some_and(|last| now < *last + every)
        {
            return false;
        }
        if self.last.len() >= members.max(16) {
            self.last.retain(|_, last| now < *last + every);
        }
        self.last.insert(client.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_turn_per_client_per_period_and_old_turns_are_forgotten() {
        let mut turns = TypingTurns::default();
        let (a, b) = (ClientId::parse("a").unwrap(), ClientId::parse("b").unwrap());
        let every = Duration::from_secs(2);
        let t0 = Instant::now();
        assert!(turns.take(&a, t0, every, 2));
        assert!(!turns.take(&a, t0 + Duration::from_millis(1999), every, 2));
        assert!(turns.take(&b, t0, every, 2));
        assert!(turns.take(&a, t0 + every, every, 2));
        for i in 0..100 {
            let c = ClientId::parse(&format!("c{i}")).unwrap();
            assert!(turns.take(&c, t0 + every * (i + 2), every, 2));
        }
        assert!(turns.last.len() <= 17);
    }
}
