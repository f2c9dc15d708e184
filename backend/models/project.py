"""Collection projects (采集项目, DA/T 59-2017 采集方案): what is collected, from whom, when, where, how and by whom;
also the archive's themed memory collections (专题), which may be shown to the public."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

PROJECT_STATUSES = ("planned", "collecting", "closed")
PROJECT_STATUS_LABELS = {"planned": "计划中", "collecting": "采集中", "closed": "已结项"}
# 方式: how the project collects (DA/T 59 采集方式)
METHODS = ("audio", "video", "photo", "document")
METHOD_LABELS = {"audio": "录音", "video": "录像", "photo": "照相", "document": "文献征集"}


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    title: Mapped[str] = mapped_column(String(255))                       # 主题
    content: Mapped[str] = mapped_column(Text, default="")                # 内容
    background: Mapped[str] = mapped_column(Text, default="")             # 历史背景
    planned_start: Mapped[date | None] = mapped_column(Date, nullable=True)  # 时间
    planned_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    place: Mapped[str | None] = mapped_column(String(255), nullable=True)  # 地点
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)         # 方式
    budget: Mapped[str | None] = mapped_column(String(255), nullable=True)  # 经费
    equipment: Mapped[str] = mapped_column(Text, default="")               # 设备
    # A themed collection shown in the public API (with its published content only).
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    person_rows: Mapped[list["ProjectPerson"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    collector_rows: Mapped[list["ProjectCollector"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def person_ids(self) -> list[int]:
        return sorted(row.person_id for row in self.person_rows)

    @property
    def collector_ids(self) -> list[int]:
        return sorted(row.user_id for row in self.collector_rows)


class ProjectPerson(db.Model):
    """口述者: a narrator the project plans to record."""

    __tablename__ = "project_persons"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)


class ProjectCollector(db.Model):
    """采集者: a user assigned to the project (a collector sees it and files material into it)."""

    __tablename__ = "project_collectors"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
