//! The parts of the `purple-sector` command that tests and other programs reach directly:
//! [`serve`], the web app (REST API, WebSocket stream, dashboard) over the library.

pub mod serve;
