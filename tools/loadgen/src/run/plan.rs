//! Turns a [`Scenario`] into the list of connections to open, checking it is bounded.

use super::scenario::Scenario;

/// One connection of the plan.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    pub(super) channel: usize,
    pub(super) client: String,
    /// Publisher index and how many messages it sends over the send phase.
    pub(super) publisher: Option<(u32, u32)>,
}

/// The number of channels the connections use, and one [`Spec`] per connection, publishers
/// first.
pub(super) fn plan(scenario: &Scenario) -> Result<(usize, Vec<Spec>), String> {
    let duration = scenario.duration().as_secs_f64();
    let positive = |what: &str, n: usize| {
        if n == 0 {
            Err(format!("{what} must be at least 1"))
        } else {
            Ok(())
        }
    };
    match *scenario {
        Scenario::Idle {
            connections,
            channels,
            ..
        } => {
            positive("connections", connections)?;
            positive("channels", channels)?;
            let specs = (0..connections)
                .map(|i| Spec {
                    channel: i % channels,
                    client: format!("lg-c{i}"),
                    publisher: None,
                })
                .collect();
            Ok((channels.min(connections), specs))
        }
        Scenario::Fanout {
            subscribers,
            publishers,
            rate,
            ..
        } => {
            positive("publishers", publishers)?;
            if !(rate > 0.0 && rate.is_finite()) {
                return Err("rate must be a positive number".into());
            }
            let total = (rate * duration).round().max(1.0);
            if total > f64::from(u32::MAX / 2) {
                return Err("rate × duration is too large".into());
            }
            let total = total as u32;
            let p = publishers as u32;
            let mut specs: Vec<Spec> = (0..p)
                .map(|j| Spec {
                    channel: 0,
                    client: format!("lg-p{j}"),
                    publisher: Some((j, total / p + u32::from(j < total % p))),
                })
                .collect();
            specs.extend((0..subscribers).map(|i| Spec {
                channel: 0,
                client: format!("lg-s{i}"),
                publisher: None,
            }));
            Ok((1, specs))
        }
        Scenario::Rooms {
            connections,
            channels,
            rate_per_client,
            ..
        } => {
            positive("connections", connections)?;
            positive("channels", channels)?;
            if !(rate_per_client > 0.0 && rate_per_client.is_finite()) {
                return Err("rate must be a positive number".into());
            }
            let each = (rate_per_client * duration).round();
            if each < 1.0 {
                return Err(format!(
                    "rate × duration = {:.2}: every client would send nothing",
                    rate_per_client * duration
                ));
            }
            if each > 1e7 {
                return Err("rate × duration is too large".into());
            }
            let specs = (0..connections)
                .map(|i| Spec {
                    channel: i % channels,
                    client: format!("lg-c{i}"),
                    publisher: Some((i as u32, each as u32)),
                })
                .collect();
            Ok((channels.min(connections), specs))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn plans_are_bounded_and_spread() {
        let (ch, specs) = plan(&Scenario::Fanout {
            subscribers: 10,
            publishers: 3,
            rate: 10.0,
            duration: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!((ch, specs.len()), (1, 13));
        let counts: Vec<u32> = specs
            .iter()
            .filter_map(|s| s.publisher.map(|p| p.1))
            .collect();
        assert_eq!(counts, [4, 3, 3]);

        let (ch, specs) = plan(&Scenario::Rooms {
            connections: 10,
            channels: 4,
            rate_per_client: 0.5,
            duration: Duration::from_secs(10),
        })
        .unwrap();
        assert_eq!(ch, 4);
        assert!(specs.iter().all(|s| s.publisher.map(|p| p.1) == Some(5)));
        assert_eq!(specs.iter().filter(|s| s.channel == 3).count(), 2);

        let too_slow = Scenario::Rooms {
            connections: 1,
            channels: 1,
            rate_per_client: 0.01,
            duration: Duration::from_secs(1),
        };
        assert!(plan(&too_slow).is_err());
        let empty = Scenario::Idle {
            connections: 0,
            channels: 1,
            hold: Duration::from_secs(1),
        };
        assert!(plan(&empty).is_err());
    }
}
