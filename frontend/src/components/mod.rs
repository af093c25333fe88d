//! The app's components. Each reads the shared [`Ctx`](crate::state::Ctx) from
//! context and wires events; the logic lives in plain types and `flow`.

mod account;
mod details;
mod grid;
mod history;
mod member_sign_in;
mod notice;
mod pick;
mod progress;
mod qr;
mod results;
mod settings;
mod sign_in;

pub use account::Account;
pub use details::Details;
pub use grid::Grid;
pub use history::History;
pub use member_sign_in::MemberSignIn;
pub use notice::Notice;
pub use pick::PickCard;
pub use progress::ProgressCard;
pub use qr::Qr;
pub use results::Results;
pub use settings::SettingsCard;
pub use sign_in::SignIn;
