//! RSI_VERSION (spec B5.3.10) and RSI_FEATURES (B5.3.3).

use super::{answer, RSI_ERROR_INPUT, RSI_SUCCESS};
use crate::rec::{Handled, VcpuContext};
use crate::rmi::{negotiate, InterfaceVersion};

/// The RSI revisions this RMM implements, ascending (B5.1: this specification defines 1.0).
pub const RSI_REVISIONS: &[InterfaceVersion] = &[InterfaceVersion::new(1, 0)];

/// RSI_VERSION: x1 req. Returns x0 RSI_SUCCESS if a compatible revision is implemented (else
/// RSI_ERROR_INPUT), x1 lower, x2 higher, negotiated as spec B2 and B5.3.10 say.
pub fn version(vcpu: &mut VcpuContext) -> Handled {
    let (compatible, lower, higher) = negotiate(RSI_REVISIONS, vcpu.gprs[1]);
    let result = if compatible {
        RSI_SUCCESS
    } else {
        RSI_ERROR_INPUT
    };
    answer(vcpu, &[result, lower.encode(), higher.encode()])
}

/// RSI_FEATURES: x1 index. Every feature register reads as zero in RSI 1.0 (B5.3.3.3 `index`).
pub fn features(vcpu: &mut VcpuContext) -> Handled {
    answer(vcpu, &[RSI_SUCCESS, 0])
}
