"""Settings' inference servers: add, edit and remove a server, and Test connection.

A server is a base URL, an optional API key (kept only in the secrets store: the system
keyring, else a file only the user can read) and an optional CA certificate for a
self-signed server. Test connection runs on a worker thread and shows what the server is and
what it can give. The servers' models then appear in the model picker, marked as remote.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.remote import servers
from tokenwise.core.remote.servers import ServerRecord
from tokenwise.core.tasks import SerialWorker, TaskState
from tokenwise.ui.workers import gui_worker, no_resource


def _probe_lines(url: str, api_key: str | None, ca_cert: str) -> list[str]:
    """Test connection's work, on the servers' worker."""
    from tokenwise.core.remote import RemoteClient, probe

    with RemoteClient(url, api_key=api_key, ca_cert=ca_cert, timeout=15.0) as client:
        return probe(client).summary()


class ServersPanel(QGroupBox):
    """The list of servers and the form of the one selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Inference servers"))
        self._worker: SerialWorker[None] | None = None
        self._records: list[ServerRecord] = []
        self.changed = False  # a server was saved or removed: the model list is stale

        self.list = QListWidget()
        self.list.setMaximumHeight(64)
        self.list.setToolTip(self.tr("Servers whose models the model picker lists"))
        self.list.currentRowChanged.connect(self._show_row)

        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setToolTip(self.tr("A name for the server, shown beside its models"))
        form.addRow(self.tr("Name"), self.name)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://gpu-box:8080")
        self.url.setToolTip(self.tr("The server's base URL (llama-server, vLLM, SGLang, "
                                    "llama-cpp-python, Ollama, LM Studio)"))
        form.addRow(self.tr("Base URL"), self.url)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setToolTip(self.tr("The API key, if the server wants one. Kept in the system "
                                    "keyring (else in a file only you can read), never in the "
                                    "settings or the chat history"))
        form.addRow(self.tr("API key"), self.key)
        self.ca_cert = QLineEdit()
        self.ca_cert.setToolTip(self.tr("A CA certificate file (PEM) for a server with a "
                                        "self-signed certificate; empty for none"))
        browse = QPushButton(self.tr("Browse…"))
        browse.setToolTip(self.tr("Choose the CA certificate file"))
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.ca_cert, 1)
        row.addWidget(browse)
        form.addRow(self.tr("CA certificate"), row)

        self.new_button = QPushButton(self.tr("New"))
        self.new_button.setToolTip(self.tr("Clear the form to add another server"))
        self.new_button.clicked.connect(self._new)
        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.setToolTip(self.tr("Save this server (and its key, if one is typed)"))
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton(self.tr("Remove"))
        self.remove_button.setToolTip(self.tr("Remove the selected server and forget its key"))
        self.remove_button.clicked.connect(self.remove)
        self.test_button = QPushButton(self.tr("Test connection"))
        self.test_button.setToolTip(self.tr("Ask the server what it is and what it can give"))
        self.test_button.clicked.connect(self.test_connection)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)

        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setObjectName("Notice")
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addLayout(form)
        layout.addLayout(buttons)
        scroll = QScrollArea()  # a long answer scrolls instead of stretching the dialog
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumHeight(110)
        scroll.setWidget(self.result)
        layout.addWidget(scroll)
        self._reload()

    # ------------------------------------------------------------------ list

    def _reload(self, select: str = "") -> None:
        self._records = servers.load_servers()
        self.list.blockSignals(True)
        self.list.clear()
        for record in self._records:
            self.list.addItem(f"{record.name} — {record.base_url}")
        self.list.blockSignals(False)
        row = next((i for i, r in enumerate(self._records) if r.id == select), -1)
        if row < 0 and self._records:
            row = 0
        self.list.setCurrentRow(row)
        self._show_row(row)

    def _selected(self) -> ServerRecord | None:
        row = self.list.currentRow()
        return self._records[row] if 0 <= row < len(self._records) else None

    def _show_row(self, row: int) -> None:
        record = self._records[row] if 0 <= row < len(self._records) else None
        self.name.setText(record.name if record else "")
        self.url.setText(record.base_url if record else "")
        self.ca_cert.setText(record.ca_cert if record else "")
        self.key.clear()
        saved_key = record is not None and record.api_key() is not None
        self.key.setPlaceholderText(self.tr("saved — type to replace") if saved_key
                                    else self.tr("none"))
        self.remove_button.setEnabled(record is not None)
        self.result.clear()

    def _new(self) -> None:
        self.list.setCurrentRow(-1)
        self._show_row(-1)
        self.name.setFocus()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("CA certificate"), self.ca_cert.text(),
            self.tr("Certificates (*.pem *.crt *.cer);;All files (*)"))
        if path:
            self.ca_cert.setText(path)

    # ------------------------------------------------------------------ actions

    def save(self) -> None:
        url = self.url.text().strip()
        if not url:
            self.result.setText(self.tr("Type the server's base URL first."))
            return
        current = self._selected()
        if current is None:
            record = servers.new_record(self.name.text(), url, self.ca_cert.text())
        else:
            record = ServerRecord(current.id, self.name.text().strip() or url, url,
                                  self.ca_cert.text().strip(), current.post_sampling)
        typed = self.key.text()
        servers.upsert(record, api_key=typed if typed else None)
        self.changed = True
        self._reload(select=record.id)
        self.result.setText(self.tr("Saved."))

    def remove(self) -> None:
        record = self._selected()
        if record is None:
            return
        servers.remove(record.id)
        self.changed = True
        self._reload()
        self.result.setText(self.tr("Removed {0}.").format(record.name))

    def test_connection(self) -> None:
        url = self.url.text().strip()
        if not url:
            self.result.setText(self.tr("Type the server's base URL first."))
            return
        current = self._selected()
        key = self.key.text() or (current.api_key() if current is not None else None)
        ca_cert = self.ca_cert.text().strip()
        if self._worker is None:
            self._worker = gui_worker("tokenwise-servers", no_resource)
        self.test_button.setEnabled(False)
        self.result.setText(self.tr("Testing {0}…").format(url))

        def work(_resource: None, _state: TaskState[None]) -> list[str]:
            return _probe_lines(url, key, ca_cert)

        self._worker.submit(work, key="probe", returned=self._tested, failed=self._test_failed)

    def _tested(self, lines: list[str]) -> None:
        self.test_button.setEnabled(True)
        self.result.setText("\n".join(lines))

    def _test_failed(self, error: Exception) -> None:
        self.test_button.setEnabled(True)
        self.result.setText(self.tr("Test connection failed: {0}").format(error))

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(0.5)
            self._worker = None
