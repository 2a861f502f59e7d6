//! Events for the integrator's log: through the `log` facade (feature `log`) and/or
//! `defmt` (feature `defmt`, bare-metal targets). With neither, [`event!`] expands to
//! nothing.

/// `event!(warn, "format", args…)`: one event at a `log`/`defmt` level. The format uses
/// `{}` only, with arguments that are `Display` and `defmt::Format`.
macro_rules! event {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        ::log::$level!($($arg)+);
        #[cfg(all(feature = "defmt", target_os = "none"))]
        ::defmt::$level!($($arg)+);
    }};
}

/// Remembers the link state a driver read last; a change is an `info` event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkWatch(crate::link::LinkState);

impl LinkWatch {
    pub(crate) const fn new() -> Self {
        LinkWatch(crate::link::LinkState::Unknown)
    }

    /// `now`, after noting a change from the last state read on `nic`.
    pub(crate) fn observe(
        &mut self,
        nic: &'static str,
        now: crate::link::LinkState,
    ) -> crate::link::LinkState {
        if now != self.0 {
            event!(info, "nic-drivers: {} link {}", nic, now.as_str());
            let _ = nic;
            self.0 = now;
        }
        now
    }
}
