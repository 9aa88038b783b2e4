//! The Realm Services Interface: function IDs and return codes (spec B5).
//!
//! RSI_IPA_STATE_SET exits to the host so it can apply the change with RMI_RTT_SET_RIPAS; the
//! other commands come with the realm-execution work and return NOT_SUPPORTED until then.

/// RSI_VERSION.
pub const RSI_VERSION: u64 = 0xC400_0190;
/// RSI_IPA_STATE_SET.
pub const RSI_IPA_STATE_SET: u64 = 0xC400_0197;

/// RSI_SUCCESS.
pub const RSI_SUCCESS: u64 = 0;
/// RSI_ERROR_INPUT.
pub const RSI_ERROR_INPUT: u64 = 1;

/// RsiRipasChangeFlags bit 0: a change may apply to entries whose RIPAS is DESTROYED.
pub const RSI_CHANGE_DESTROYED: u64 = 1;
