//! RMI_VERSION (spec B4.3.23) and interface revision negotiation (spec B2).

use super::{Outputs, RmiError};

/// An interface revision (RmiInterfaceVersion, B4.4.9; RSI uses the same encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InterfaceVersion {
    major: u16,
    minor: u16,
}

impl InterfaceVersion {
    /// Revision `major.minor`; `major` must fit in 15 bits.
    pub const fn new(major: u16, minor: u16) -> Self {
        assert!(major < 1 << 15);
        Self { major, minor }
    }

    /// The register encoding: major in 30:16, minor in 15:0, the rest zero.
    pub const fn encode(self) -> u64 {
        (self.major as u64) << 16 | self.minor as u64
    }

    /// Decodes a register value; `None` if a reserved (MBZ) bit is set.
    pub const fn decode(value: u64) -> Option<Self> {
        if value >> 31 != 0 {
            return None;
        }
        Some(Self {
            major: (value >> 16) as u16,
            minor: value as u16,
        })
    }
}

impl core::fmt::Display for InterfaceVersion {
    /// `major.minor`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The RMI revisions this RMM implements, ascending (B4.1: this specification defines 1.0).
pub const RMI_REVISIONS: &[InterfaceVersion] = &[InterfaceVersion::new(1, 0)];

/// The outcome of a version request per spec B2: `(compatible, lower, higher)`.
///
/// `supported` is ascending and non-empty (an empty list supports nothing: not compatible,
/// both revisions 0.0). A request with reserved bits set is an invalid encoding (B4.2): not
/// compatible, and both revisions reported are the highest supported.
pub fn negotiate(
    supported: &[InterfaceVersion],
    requested: u64,
) -> (bool, InterfaceVersion, InterfaceVersion) {
    let Some(&higher) = supported.last() else {
        let none = InterfaceVersion::new(0, 0);
        return (false, none, none);
    };
    let Some(requested) = InterfaceVersion::decode(requested) else {
        return (false, higher, higher);
    };
    // (a) A supported revision compatible with the request: the request itself.
    if supported.contains(&requested) {
        return (true, requested, higher);
    }
    // (b) The highest supported revision below the request, else (c) the highest overall.
    let lower = supported.iter().rev().find(|&&v| v < requested);
    (false, *lower.unwrap_or(&higher), higher)
}

/// RMI_VERSION: x1 = lower, x2 = higher; RMI_ERROR_INPUT when no compatible revision exists.
pub(super) fn version(requested: u64, out: &mut Outputs) -> Result<(), RmiError> {
    let (compatible, lower, higher) = negotiate(RMI_REVISIONS, requested);
    out[0] = lower.encode();
    out[1] = higher.encode();
    if compatible {
        Ok(())
    } else {
        Err(RmiError::INPUT)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn v(major: u16, minor: u16) -> InterfaceVersion {
        InterfaceVersion::new(major, minor)
    }

    /// Every scenario of the table in spec B2: supported, requested, outcome, lower, higher.
    #[test]
    fn spec_b2_scenarios() {
        #[rustfmt::skip]
        let scenarios: &[(&[InterfaceVersion], InterfaceVersion, bool, InterfaceVersion, InterfaceVersion)] = &[
            (&[v(1, 0)], v(1, 0), true, v(1, 0), v(1, 0)),
            (&[v(1, 0), v(1, 1)], v(1, 0), true, v(1, 0), v(1, 1)),
            (&[v(1, 0), v(2, 0)], v(1, 0), true, v(1, 0), v(2, 0)),
            (&[v(1, 0)], v(1, 1), false, v(1, 0), v(1, 0)),
            (&[v(1, 0), v(1, 1)], v(1, 2), false, v(1, 1), v(1, 1)),
            (&[v(1, 0), v(1, 1)], v(2, 0), false, v(1, 1), v(1, 1)),
            (&[v(1, 0), v(1, 1), v(1, 3)], v(1, 2), false, v(1, 1), v(1, 3)),
            (&[v(1, 0)], v(2, 0), false, v(1, 0), v(1, 0)),
            (&[v(1, 0)], v(2, 1), false, v(1, 0), v(1, 0)),
            (&[v(1, 0), v(1, 1)], v(2, 0), false, v(1, 1), v(1, 1)),
            (&[v(1, 0), v(1, 1)], v(2, 1), false, v(1, 1), v(1, 1)),
            (&[v(1, 0), v(1, 1), v(2, 0)], v(2, 1), false, v(2, 0), v(2, 0)),
            (&[v(2, 0)], v(1, 0), false, v(2, 0), v(2, 0)),
            (&[v(2, 0)], v(1, 1), false, v(2, 0), v(2, 0)),
            (&[v(2, 0), v(2, 1)], v(1, 0), false, v(2, 1), v(2, 1)),
        ];
        for (i, &(supported, requested, ok, lower, higher)) in scenarios.iter().enumerate() {
            assert_eq!(
                negotiate(supported, requested.encode()),
                (ok, lower, higher),
                "scenario {}",
                i + 1
            );
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(v(1, 0).encode(), 0x1_0000);
        assert_eq!(
            InterfaceVersion::decode(0x7fff_ffff),
            Some(v(0x7fff, 0xffff))
        );
        assert_eq!(InterfaceVersion::decode(0x8000_0000), None);
        assert_eq!(InterfaceVersion::decode(1 << 40 | 0x1_0000), None);
    }
}
