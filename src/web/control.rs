//! (stub) The controller: owns the runner in web mode and applies the handlers' commands.
