package http

import (
	"net/http"

	"github.com/wxnotify/wxnotify"
)

func (s *Server) registerJobRoutes() {
	s.handle("GET /v1/jobs", s.requireAPIKey(s.handleJobList))
}

// JobListResponse is the body of GET /v1/jobs: the scheduled jobs of the
// instance that answered, with their last and next runs.
type JobListResponse struct {
	Jobs []*wxnotify.JobStatus `json:"jobs"`
}

func (s *Server) handleJobList(w http.ResponseWriter, r *http.Request) {
	if s.JobService == nil {
		s.Error(w, r, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the scheduled jobs are not run by this server"))
		return
	}
	list, err := s.JobService.FindJobs(r.Context())
	if err != nil {
		s.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, JobListResponse{Jobs: list})
}
