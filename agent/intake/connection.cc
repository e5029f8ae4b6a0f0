#include "agent/intake/connection.h"

#include "port/unix_socket.h"

namespace edge::intake {

uint64_t Connection::AddSlot(uint32_t request_id, bool wait_confirmed) {
  Slot s;
  s.request_id = request_id;
  s.wait_confirmed = wait_confirmed;
  slots_.push_back(std::move(s));
  owed_++;
  return first_serial_ + slots_.size() - 1;
}

const Connection::Slot* Connection::Find(uint64_t serial) const {
  if (serial < first_serial_ || serial - first_serial_ >= slots_.size()) return nullptr;
  const Slot* s = &slots_[serial - first_serial_];
  return s->answered ? nullptr : s;
}

bool Connection::SlotInfo(uint64_t serial, uint32_t* request_id, bool* wait_confirmed) const {
  const Slot* s = Find(serial);
  if (s == nullptr) return false;
  *request_id = s->request_id;
  *wait_confirmed = s->wait_confirmed;
  return true;
}

bool Connection::Answer(uint64_t serial, intake::Answer answer) {
  if (Find(serial) == nullptr) return false;
  Slot* s = &slots_[serial - first_serial_];
  answer.request_id = s->request_id;
  s->bytes = EncodeAnswer(answer);
  s->answered = true;
  owed_--;
  // Answers leave in request order: only the answered prefix moves to the output.
  while (!slots_.empty() && slots_.front().answered) {
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
    }
    out_ += slots_.front().bytes;
    answer_ends_.push_back(out_.size());
    unsent_answers_++;
    slots_.pop_front();
    first_serial_++;
  }
  return true;
}

Status Connection::Flush(Clock::time_point now) {
  while (has_output()) {
    size_t written = 0;
    Status s = port::WriteSome(fd_.get(), out_.data() + out_pos_, unsent_bytes(), &written);
    if (port::IsWouldBlock(s)) {
      CompactOutput();
      return Status::Ok();
    }
    if (!s.ok()) return s;
    out_pos_ += written;
    Touch(now);
    while (!answer_ends_.empty() && answer_ends_.front() <= out_pos_) {
      answer_ends_.pop_front();
      unsent_answers_--;
    }
  }
  // Everything written: offsets restart at 0, so answer_ends_ (now empty) stays consistent.
  out_.clear();
  out_pos_ = 0;
  return Status::Ok();
}

void Connection::CompactOutput() {
  // A client that always leaves a little unread would otherwise keep the written prefix alive
  // forever while new answers are appended behind it.
  if (out_pos_ < kCompactBytes || out_pos_ * 2 < out_.size()) return;
  out_.erase(0, out_pos_);
  for (size_t& end : answer_ends_) end -= out_pos_;
  out_pos_ = 0;
}

}  // namespace edge::intake
