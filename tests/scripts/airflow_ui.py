"""Airflow 3.3's UI in a real browser: Debian's ``chromium`` and ``chromedriver``, driven by Selenium.

What a user does, click by click, in the pages ``python3 dev.py standalone`` serves: log in, add
a connection with the form, test it from the connection list, trigger a DAG, read a run's
state and a task's extra links. Every step waits for what the page shows (never a fixed
sleep) and saves a screenshot, numbered in order, into ``screenshots``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# The machine's network is closed: without these, Chromium keeps calling out (and failing).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def find_browser() -> tuple[str, str] | None:
    """Return ``(browser, chromedriver)`` found on ``PATH``, or ``None``."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class AirflowUI:
    """One headless browser on one Airflow UI.

    :param url: the UI's address, e.g. ``http://localhost:8080``.
    :param screenshots: where each step's screenshot goes (created, emptied first).
    :param timeout: seconds to wait for what a step expects to see.
    """

    def __init__(self, url: str, screenshots: Path, timeout: float = 60.0) -> None:
        browser, driver = find_browser() or ("", "")
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        self._profile = tempfile.mkdtemp(prefix="chromium-")
        for flag in (*FLAGS, f"--user-data-dir={self._profile}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.url = url.rstrip("/")
        self.wait = WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
        self.screenshots = screenshots
        shutil.rmtree(screenshots, ignore_errors=True)
        screenshots.mkdir(parents=True)
        self.taken: list[Path] = []

    def close(self) -> None:
        """Quit the browser (and its driver) and remove its profile."""
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def shot(self, name: str) -> Path:
        """Save a screenshot of the page as ``NN-name.png``."""
        path = self.screenshots / f"{len(self.taken) + 1:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        self.taken.append(path)
        return path

    def _visible(self, xpath: str):
        return self.wait.until(ec.visibility_of_element_located((By.XPATH, xpath)))

    def _click(self, xpath: str) -> None:
        # Found and clicked in one step: a page that re-renders between the two leaves a stale element.
        def click(driver) -> bool:
            element = ec.element_to_be_clickable((By.XPATH, xpath))(driver)
            if element:
                element.click()
            return bool(element)

        self.wait.until(click)

    # ------------------------------------------------------------------ steps

    def login(self, user: str, password: str) -> None:
        """Sign in on the simple auth manager's page."""
        self.driver.get(self.url)
        self._visible("//input[@name='username']").send_keys(user)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.shot("login")
        self._click("//button[@type='submit']")
        self.wait.until(lambda d: "/auth/login" not in d.current_url)

    def connection_row(self, conn_id: str) -> str:
        """Open *Admin > Connections*; return the text of ``conn_id``'s row."""
        self.driver.get(f"{self.url}/connections")
        return self._visible(f"//tr[.//td[normalize-space()='{conn_id}']]").text

    def delete_connection(self, conn_id: str) -> None:
        """Delete ``conn_id`` with its row's *Delete* icon, confirmed in the dialog."""
        self.connection_row(conn_id)
        self._click(f"//tr[.//td[normalize-space()='{conn_id}']]//button[@aria-label='Delete Connection']")
        self._click("//button[normalize-space()='Yes, Delete']")
        self.wait.until(
            ec.invisibility_of_element_located((By.XPATH, f"//tr[.//td[normalize-space()='{conn_id}']]"))
        )

    def add_intervals_connection(self, conn_id: str, fields: dict[str, str]) -> tuple[str, list[str]]:
        """Add a connection of type *Intervals* with the form; return the plan select's text and choices.

        :param fields: the standard fields to fill, by input name (``host``, ``port``,
            ``schema``, ``password``); the extra fields are left as the form shows them.
        """
        self.driver.get(f"{self.url}/connections")
        self._click("//button[normalize-space()='Add Connection']")
        self._visible("//input[@name='connection_id']").send_keys(conn_id)
        kind = self._visible("//div[@role='dialog']//input[@role='combobox']")
        kind.send_keys("Intervals")
        self._visible("//div[@role='option' and normalize-space()='Intervals']")
        kind.send_keys(Keys.ENTER)
        for name, value in fields.items():
            self._visible(f"//div[@role='dialog']//*[@name='{name}']").send_keys(value)
        self.shot("connection-form")
        self._click("//button[contains(., 'Extra Fields') and not(contains(., 'JSON'))]")
        group = "//label[normalize-space()='Plan (pacing)']/ancestor::div[@role='group'][1]"
        plan = self._visible(group)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", plan)
        shown = plan.text
        select = self._visible(f"{group}//input[@role='combobox']")
        select.send_keys(Keys.ARROW_DOWN)  # open the select's menu, as a click on it does
        listed = self.wait.until(lambda d: d.find_elements(By.XPATH, "//*[@role='option']"))
        options = [option.text for option in listed]
        self.shot("connection-form-plan-choices")
        # Enter takes the highlighted choice, the one already chosen (Escape would close the dialog).
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.wait.until(ec.invisibility_of_element_located((By.XPATH, "//*[@role='option']")))
        self._click("//div[@role='dialog']//button[normalize-space()='Save']")
        self._visible(f"//tr[.//td[normalize-space()='{conn_id}']]")
        self.shot("connection-saved")
        return shown, options

    def test_connection(self, conn_id: str) -> str:
        """Click ``conn_id``'s *Test Connection* icon; return ``"green"`` (success) or ``"red"``."""
        self.connection_row(conn_id)
        button = f"//tr[.//td[normalize-space()='{conn_id}']]//button[@aria-label='Test Connection']"
        self._click(button)
        # The colour is read where the icon is found: the list re-renders it (a stale element).
        color = self.wait.until(
            lambda d: d.find_element(By.XPATH, f"{button}//*[name()='svg'][@color]").get_attribute("color"),
            message="the Test Connection icon never turned green or red",
        )
        self.shot("connection-tested")
        return color

    def trigger(self, dag_id: str) -> str:
        """Trigger a run of ``dag_id`` from its page, as the *Trigger* button offers it; return its run id."""
        self.driver.get(f"{self.url}/dags/{dag_id}")
        self._click("//button[@aria-label='Trigger Dag']")
        dialog = "//div[@role='dialog' and .//*[contains(normalize-space(), 'Single Run')]]"
        # The dialog fades in: a click before it is whole does not reach the button.
        self.wait.until(lambda d: d.find_element(By.XPATH, dialog).value_of_css_property("opacity") == "1")
        self.shot("trigger-dialog")
        self._click("(//button[normalize-space()='Trigger'])[last()]")
        self.wait.until(lambda d: f"/dags/{dag_id}/runs/" in d.current_url)
        return self.driver.current_url.split("/runs/", 1)[1].split("/")[0]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300.0) -> str:
        """Reload the run's page until its header's badge shows an end state; return it (``Success``)."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            self.driver.get(f"{self.url}/dags/{dag_id}/runs/{run_id}")
            badge = self._visible("(//span[contains(@class, 'chakra-badge') and not(ancestor::table)])[1]")
            state = badge.text.strip()
            if state in ("Success", "Failed"):
                break
            time.sleep(3)
        self.shot("run")
        return state

    def task_links(self, dag_id: str, run_id: str, task_id: str, names: list[str]) -> dict[str, str]:
        """Open the task instance's *Details* tab; return each named extra link's address there."""
        self.driver.get(f"{self.url}/dags/{dag_id}/runs/{run_id}/tasks/{quote(task_id)}/details")
        self._visible("//*[normalize-space()='Extra Links']")
        found = {n: self._visible(f"//a[normalize-space()='{n}']").get_attribute("href") for n in names}
        self.shot("task-instance-extra-links")
        return found

    def follow_link(self, name: str, expect: str) -> str:
        """Click the extra link ``name``; return the text of the XCom row it opens, once ``expect`` shows.

        A local landing's link opens the task's XCom (Airflow's UI cannot open a ``file://``): its
        JSON is shown expanded, so the screenshot has the manifest's path.
        """
        self._click(f"//a[normalize-space()='{name}']")
        self._click("//button[@aria-label='Expand all extra JSON']")
        shown = self._visible(f"//tr[contains(normalize-space(), '{expect}')]")
        self.shot("extra-link-opened")
        return shown.text
