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
