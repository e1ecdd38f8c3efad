"""The Qt user interface of Tokenwise: every widget and thread adapter lives here."""
